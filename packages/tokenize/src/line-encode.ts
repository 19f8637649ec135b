/**
 * Line-based inputs tokenized wholly in worker threads: the main thread reads the file in chunks,
 * cuts them into batches of whole lines with a newline scan, and hands each batch's raw bytes to a
 * worker. The worker does everything per record that `tokenizeFile` does in stages — UTF-8 check,
 * JSON parse, the format's mapping, the template, the encoding — and returns the samples packed in
 * a few typed arrays (moved, not copied) plus one entry per rejected line. The main thread replays
 * the outcomes in file order through the same counters, so the samples, the per-stage counts, the
 * `onError` policy and the error messages (file, line, byte) are those of `tokenizeFile`; it only
 * orders results (and the caller writes them).
 *
 * Why: with the stages on the main thread, reading + parsing + templating + batching capped a
 * 16-worker `weft process` near 25–30 MB/s whatever the worker count (bench/RESULTS.md).
 */
import { DataError, StageStats, WorkerPool, fromIterable, type OnError, type Provenance, type Reason, type Sample } from '@weft/core';
import { DEFAULT_MAX_RECORD_BYTES, fileChunks, lineSource, lineText, parseJsonLine, recordTooLarge, splitLines, type ByteRange, type RawLine } from '@weft/order';
import { encodePrepared } from './encode.ts';
import { encodeWorkerInit, limitNativeThreads, workerTokenizer, type EncodeWorkerInit } from './encode-worker.ts';
import { isLineBased, recordToItem, type DatasetFormat } from './formats.ts';
import { lossKeyInFile } from './loss-key.ts';
import { messagesToTurns, pretrainPieces, turnsToPieces, type Prepared } from './template-map.ts';
import { getTemplate, type PromptTemplate } from './templates.ts';
import type { Tokenizer } from './tokenizer.ts';
import type { TokenizedStream } from './tokenize-file.ts';

/** What each line worker gets: the encoder's init plus the format, template and record limit of the job. */
export interface LineEncodeInit extends EncodeWorkerInit {
  format: DatasetFormat;
  template: string | PromptTemplate;
  maxRecordBytes: number;
}

/** A batch of whole lines (raw bytes), or one line over the limit that was not read. */
export interface LineBatch {
  file: string;
  /** Where the batch starts: byte offset in the file and lines before it. */
  first: { offset: number; line: number };
  /** ftdp/openai: some message of the file has a `loss` key (found once per file, on the main thread). */
  lossKey: boolean;
  bytes?: Uint8Array;
  /** Set instead of `bytes`: the size of a line over `maxRecordBytes` (its bytes were never held). */
  tooLarge?: number;
}

/** Stages a line goes through, in order; a line stops at one of them or becomes a sample (`SAMPLE`). */
const READ = 0, MAP = 1, TEMPLATE = 2, ENCODE = 3, SAMPLE = 4;

/** Why a line stopped: a DataError (subject to `onError`), a drop (counted), or any other error (fatal). */
export interface LineReject {
  /** The counter's key (absent for a fatal error). */
  reason?: Reason;
  error?: { detail: string; source: Provenance; reason: Reason };
  fatal?: { name: string; message: string; stack?: string };
}

/** A worker's answer for one batch: per line its last stage, the samples packed, the rejections in line order. */
export interface LineBatchResult {
  /** Lines before the batch (its first line is this + 1). */
  firstLine: number;
  /** Per line: the stage it stopped at (0 read, 1 map, 2 template, 3 encode) or 4 (a sample). */
  stops: Uint8Array;
  /** Per line: its byte offset in the file. */
  offsets: Float64Array;
  /** Per sample: its token count; ids and labels of all samples, one after the other. */
  lens: Int32Array;
  ids: Int32Array;
  labels: Int32Array;
  rejects: LineReject[];
}

/** A pool of line workers (see {@link lineEncoderPool}). */
export type LineEncoderPool = WorkerPool<LineBatch, LineBatchResult, LineEncodeInit> & { readonly lineJob: { format: DatasetFormat; maxRecordBytes: number } };

/** Whether {@link tokenizeLines} can read this input (line-based, a PROMPT_TEMPLATE rather than the tokenizer's Jinja template). */
export function canTokenizeLines(file: string, format: DatasetFormat, template: string | PromptTemplate): boolean {
  if (template === 'chat_template') return false;
  if (format === 'pretrain' && file.toLowerCase().endsWith('.txt')) return false; // read-text: another reader
  return isLineBased(file, format);
}

/**
 * Worker threads that tokenize batches of raw lines for a whole job (one format and template).
 *
 * @example
 * const pool = lineEncoderPool(tok, { workers: 16, format: 'ftdp', template: 'internlm2_chat', maxLength: 32768 });
 * for await (const s of tokenizeLines('a.json', { pool })) write(s);
 * await pool.close();
 */
export function lineEncoderPool(tokenizer: Pick<Tokenizer, 'spec'>, opts: { workers: number; format: DatasetFormat; template: string | PromptTemplate; maxLength?: number; maxRecordBytes?: number }): LineEncoderPool {
  const { concurrencyPerWorker } = tokenizer.spec.backend === 'native' ? limitNativeThreads(opts.workers) : { concurrencyPerWorker: 1 };
  const maxRecordBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  if (!Number.isSafeInteger(maxRecordBytes) || maxRecordBytes < 1) throw new RangeError(`maxRecordBytes must be a positive integer, got ${maxRecordBytes}`);
  if (typeof opts.template === 'string') getTemplate(opts.template); // an unknown name fails here, not in every worker
  const init: LineEncodeInit = {
    ...encodeWorkerInit(tokenizer.spec, opts.maxLength !== undefined ? { maxLength: opts.maxLength } : {}),
    format: opts.format, template: opts.template, maxRecordBytes,
  };
  const pool = new WorkerPool<LineBatch, LineBatchResult, LineEncodeInit>({
    module: new URL('./line-encode.ts', import.meta.url), name: 'createLineEncoder', init, workers: opts.workers, concurrencyPerWorker, inFlightPerWorker: 3,
    transfer: (b) => (b.bytes ? [b.bytes.buffer as ArrayBuffer] : []),
  });
  return Object.assign(pool, { lineJob: { format: opts.format, maxRecordBytes } });
}

/** Worker factory: loads the tokenizer once, then tokenizes batches of lines. */
export async function createLineEncoder(init: LineEncodeInit): Promise<(b: LineBatch) => Promise<LineBatchResult>> {
  const tok = await workerTokenizer(init);
  const template = typeof init.template === 'string' ? getTemplate(init.template) : init.template;
  return (b) => encodeLines(b, init, template, (items) => encodePrepared(tok, items, init.maxLength));
}

function rejectOf(e: unknown): LineReject {
  if (e instanceof DataError) return { reason: e.reason, error: { detail: e.detail, source: e.source, reason: e.reason } };
  const err = e instanceof Error ? e : new Error(String(e));
  return { fatal: { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) } };
}

/** One batch through read → map → template → encode, as `tokenizeFile`'s stages do it per line. */
async function encodeLines(b: LineBatch, init: LineEncodeInit, template: PromptTemplate, encodeMany: (items: Prepared[]) => Promise<(Sample | null)[]>): Promise<LineBatchResult> {
  const rejects: LineReject[] = [];
  const stops: number[] = [];
  const offsets: number[] = [];
  const prepared: Prepared[] = [];
  const preparedAt: number[] = []; // line index of each prepared record
  let lines: RawLine[];
  if (b.tooLarge !== undefined) lines = [{ bytes: Buffer.alloc(0), line: b.first.line + 1, offset: b.first.offset, file: b.file, tooLarge: b.tooLarge }];
  else {
    lines = [];
    const u = b.bytes!;
    const buf = Buffer.from(u.buffer, u.byteOffset, u.byteLength);
    for await (const part of splitLines(fromIterable([buf]), b.file, init.maxRecordBytes, b.first)) lines.push(...part);
  }
  const stop = (stage: number, r: LineReject): void => {
    stops[stops.length - 1] = stage;
    rejects.push(r);
  };
  for (const raw of lines) {
    stops.push(SAMPLE);
    offsets.push(raw.offset);
    // read-jsonl (order's lineReader + readJsonl): UTF-8 and size check, blank line, JSON.
    let value: unknown;
    try {
      const text = lineText(raw, init.maxRecordBytes);
      if (text.trim() === '') { stop(READ, { reason: 'empty' }); continue; }
      value = parseJsonLine(text, raw);
    } catch (e) {
      const r = rejectOf(e);
      stop(READ, r);
      if (r.fatal) break;
      continue;
    }
    // map:<format> (formats.ts readDataset).
    let item;
    try {
      item = recordToItem(init.format, value, lineSource(raw), b.lossKey);
    } catch (e) {
      const r = rejectOf(e);
      stop(MAP, r);
      if (r.fatal) break;
      continue;
    }
    if (item === null) { stop(MAP, { reason: 'no-output' }); continue; }
    // template (template-map.ts templateMap).
    try {
      if ('text' in item && typeof item.text === 'string') prepared.push({ pieces: pretrainPieces(item.text), source: item.source });
      else {
        const turns = messagesToTurns((item as { messages: Parameters<typeof messagesToTurns>[0] }).messages);
        if (turns.length === 0) { stop(TEMPLATE, { reason: 'empty-conversation' }); continue; }
        prepared.push({ pieces: turnsToPieces(turns, template), source: item.source });
      }
    } catch (e) {
      stop(TEMPLATE, rejectOf(e)); // not a DataError: fatal whatever onError says, as in the stage
      break;
    }
    preparedAt.push(stops.length - 1);
  }
  // encode: every prepared record of the batch in one call; a record that encodes to nothing is dropped ('empty').
  const samples = prepared.length > 0 ? await encodeMany(prepared) : [];
  let total = 0;
  for (const s of samples) if (s) total += s.input_ids.length;
  const ids = new Int32Array(total), labels = new Int32Array(total);
  const lens: number[] = [];
  let at = 0;
  let encodeDrops = 0;
  samples.forEach((s, k) => {
    if (s === null) {
      stops[preparedAt[k]!] = ENCODE;
      encodeDrops++;
      return;
    }
    ids.set(s.input_ids, at);
    labels.set(s.labels, at);
    at += s.input_ids.length;
    lens.push(s.input_ids.length);
  });
  // Rejections stay in line order: the encoder's drops ('empty') are merged in where their lines are.
  let merged = rejects;
  if (encodeDrops > 0) {
    merged = [];
    let r = 0;
    for (const stop of stops) if (stop !== SAMPLE) merged.push(stop === ENCODE ? { reason: 'empty' } : rejects[r++]!);
  }
  return { firstLine: b.first.line, stops: Uint8Array.from(stops), offsets: Float64Array.from(offsets), lens: Int32Array.from(lens), ids, labels, rejects: merged };
}

/** Options of {@link tokenizeLines}. */
export interface TokenizeLinesOptions {
  pool: LineEncoderPool;
  onError?: OnError;
  /** Read only this byte range (cut at line starts); `firstLine`: lines before it, when known. */
  range?: ByteRange;
  /** Raw bytes per batch handed to a worker (whole lines: a batch ends at the first line end past it). Default 64 KiB. */
  batchBytes?: number;
}

/**
 * The samples of one line-based file, tokenized by a {@link lineEncoderPool}: the same samples,
 * counters ([read, map, template, encode]) and errors as `tokenizeFile`, with the per-record work
 * off this thread. Memory: at most the pool's window of batches in flight.
 *
 * @example
 * const s = tokenizeLines('data/a.json', { pool, onError: 'skip' });
 * for await (const x of s) write(x);
 * s.stats.map((st) => st.toJSON());
 */
export function tokenizeLines(path: string, options: TokenizeLinesOptions): TokenizedStream {
  const { format, maxRecordBytes } = options.pool.lineJob;
  const onError = options.onError ?? 'fail';
  const batchBytes = options.batchBytes ?? 1 << 16;
  if (!Number.isInteger(batchBytes) || batchBytes < 1) throw new RangeError(`batchBytes must be a positive integer, got ${batchBytes}`);
  const r = options.range;
  // As order's openInputs names a range whose earlier lines are not counted.
  const file = r && r.firstLine === undefined && r.start > 0 ? `${path} [bytes ${r.start}..${r.end}]` : path;
  const stats = [new StageStats('read-jsonl'), new StageStats(`map:${format}`), new StageStats('template'), new StageStats('encode')];
  const samples = (async function* (): AsyncIterable<Sample> {
    const lossKey = (format === 'ftdp' || format === 'openai') && await lossKeyInFile(path, format, maxRecordBytes);
    const batches = lineBatches(path, file, r, lossKey, batchBytes, maxRecordBytes);
    for await (const res of options.pool.map(batches)) {
      let rj = 0, sj = 0, at = 0;
      for (let i = 0; i < res.stops.length; i++) {
        const stop = res.stops[i]!;
        for (let k = 0; k < stop && k < SAMPLE; k++) { stats[k]!.seen++; stats[k]!.emitted++; }
        if (stop === SAMPLE) {
          const n = res.lens[sj++]!;
          const s: Sample = { input_ids: res.ids.subarray(at, at + n), labels: res.labels.subarray(at, at + n), source: { file, line: res.firstLine + i + 1, offset: res.offsets[i]! } };
          at += n;
          yield s;
          continue;
        }
        const st = stats[stop]!;
        st.seen++;
        const rej = res.rejects[rj++]!;
        if (rej.fatal) throw Object.assign(new Error(rej.fatal.message), { name: rej.fatal.name, ...(rej.fatal.stack ? { stack: rej.fatal.stack } : {}) });
        if (rej.error) {
          const e = new DataError(rej.error.detail, rej.error.source, { reason: rej.error.reason });
          if (onError === 'fail') throw e;
          st.reject(e.reason, e.message);
        } else st.reject(rej.reason!);
      }
    }
  })();
  return Object.assign(samples, { stats });
}

/**
 * The file (or range) in batches of whole lines of about `batchBytes`; a line over `limit` is
 * counted past without being held and comes out alone as `tooLarge`.
 */
async function* lineBatches(path: string, file: string, range: ByteRange | undefined, lossKey: boolean, batchBytes: number, limit: number): AsyncIterable<LineBatch> {
  let line = range?.firstLine ?? 0;
  let offset = range?.start ?? 0;
  let pend: Buffer[] = [];
  let pendLen = 0;
  let lastNl = -1; // index in the pending bytes of the last '\n' (-1: none)
  let skipping = -1; // >= 0: size so far of a line over the limit being skipped
  const emit = (bytes: Buffer): LineBatch => {
    let n = 0;
    for (let p = bytes.indexOf(10); p >= 0; p = bytes.indexOf(10, p + 1)) n++; // memchr-fast per line
    if (bytes.length > 0 && bytes[bytes.length - 1] !== 10) n++;
    const b: LineBatch = { file, first: { offset, line }, lossKey, bytes };
    line += n;
    offset += bytes.length;
    return b;
  };
  // The first `upTo` pending bytes, copied once into a buffer of their own (moved to the worker, not cloned).
  const takePending = (upTo: number): Buffer => {
    const head = Buffer.allocUnsafeSlow(upTo); // not from the shared pool: its whole ArrayBuffer is this batch
    let at = 0;
    const rest: Buffer[] = [];
    for (const p of pend) {
      const take = Math.min(p.length, upTo - at);
      if (take > 0) head.set(take === p.length ? p : p.subarray(0, take), at);
      at += take;
      if (take < p.length) rest.push(p.subarray(take));
    }
    pend = rest;
    pendLen -= upTo;
    lastNl = -1;
    return head;
  };
  for await (const chunk of fileChunks(path, 1 << 22, range)) {
    let pos = 0;
    if (skipping >= 0) {
      const nl = chunk.indexOf(10);
      if (nl < 0) { skipping += chunk.length; continue; }
      yield { file, first: { offset, line }, lossKey, tooLarge: skipping + nl };
      line++;
      offset += skipping + nl + 1;
      skipping = -1;
      pos = nl + 1;
    }
    while (pos < chunk.length) {
      const need = Math.max(1, batchBytes - pendLen);
      const nl = chunk.indexOf(10, pos + need - 1);
      if (nl < 0) {
        const rest = chunk.subarray(pos);
        const l = rest.lastIndexOf(10);
        if (l >= 0) lastNl = pendLen + l;
        pend.push(rest);
        pendLen += rest.length;
        // The unfinished line is over the limit: send the whole lines before it, skip the rest of it.
        if (pendLen - (lastNl + 1) > limit) {
          if (lastNl >= 0) yield emit(takePending(lastNl + 1));
          skipping = pendLen;
          pend = [];
          pendLen = 0;
          lastNl = -1;
        }
        break;
      }
      pend.push(chunk.subarray(pos, nl + 1));
      pendLen += nl + 1 - pos;
      pos = nl + 1;
      yield emit(takePending(pendLen));
    }
  }
  if (skipping >= 0) yield { file, first: { offset, line }, lossKey, tooLarge: skipping };
  else if (pendLen > 0) yield emit(takePending(pendLen));
}
