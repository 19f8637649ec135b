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
import { DataError, StageStats, WorkerPool, type OnError, type Sample } from '@weft/core';
import { DEFAULT_MAX_RECORD_BYTES, fileChunks, type ByteRange } from '@weft/order';
import { encodeWorkerInit, limitNativeThreads } from './encode-worker.ts';
import { isLineBased, type DatasetFormat } from './formats.ts';
import { SAMPLE, type LineBatch, type LineBatchResult, type LineEncodeInit } from './line-encode-worker.ts';
import { lossKeyInFile } from './loss-key.ts';
import { getTemplate, type PromptTemplate } from './templates.ts';
import type { Tokenizer } from './tokenizer.ts';
import type { TokenizedStream } from './tokenize-file.ts';

export type { LineBatch, LineBatchResult, LineEncodeInit, LineReject } from './line-encode-worker.ts';

/** A pool of line workers (see {@link lineEncoderPool}). */
export type LineEncoderPool = WorkerPool<LineBatch, LineBatchResult, LineEncodeInit> & {
  readonly lineJob: { format: DatasetFormat; maxRecordBytes: number };
};

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
export function lineEncoderPool(
  tokenizer: Pick<Tokenizer, 'spec'>,
  opts: {
    workers: number;
    format: DatasetFormat;
    template: string | PromptTemplate;
    maxLength?: number;
    maxRecordBytes?: number;
  },
): LineEncoderPool {
  const { concurrencyPerWorker } =
    tokenizer.spec.backend === 'native' ? limitNativeThreads(opts.workers) : { concurrencyPerWorker: 1 };
  const maxRecordBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  if (!Number.isSafeInteger(maxRecordBytes) || maxRecordBytes < 1)
    throw new RangeError(`maxRecordBytes must be a positive integer, got ${maxRecordBytes}`);
  if (typeof opts.template === 'string') getTemplate(opts.template); // an unknown name fails here, not in every worker
  const init: LineEncodeInit = {
    ...encodeWorkerInit(tokenizer.spec, opts.maxLength !== undefined ? { maxLength: opts.maxLength } : {}),
    format: opts.format,
    template: opts.template,
    maxRecordBytes,
  };
  const pool = new WorkerPool<LineBatch, LineBatchResult, LineEncodeInit>({
    module: new URL('./line-encode-worker.ts', import.meta.url),
    name: 'createLineEncoder',
    init,
    workers: opts.workers,
    concurrencyPerWorker,
    inFlightPerWorker: 3,
    transfer: (b) => (b.bytes ? [b.bytes.buffer as ArrayBuffer] : []),
  });
  return Object.assign(pool, { lineJob: { format: opts.format, maxRecordBytes } });
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
  if (!Number.isInteger(batchBytes) || batchBytes < 1)
    throw new RangeError(`batchBytes must be a positive integer, got ${batchBytes}`);
  const r = options.range;
  // As order's openInputs names a range whose earlier lines are not counted.
  const file = r && r.firstLine === undefined && r.start > 0 ? `${path} [bytes ${r.start}..${r.end}]` : path;
  const stats = [
    new StageStats('read-jsonl'),
    new StageStats(`map:${format}`),
    new StageStats('template'),
    new StageStats('encode'),
  ];
  const samples = (async function* (): AsyncIterable<Sample> {
    const lossKey = (format === 'ftdp' || format === 'openai') && (await lossKeyInFile(path, format, maxRecordBytes));
    const batches = lineBatches(path, file, r, lossKey, batchBytes, maxRecordBytes);
    for await (const res of options.pool.map(batches)) {
      let rj = 0,
        sj = 0,
        at = 0;
      for (let i = 0; i < res.stops.length; i++) {
        const stop = res.stops[i]!;
        for (let k = 0; k < stop && k < SAMPLE; k++) {
          stats[k]!.seen++;
          stats[k]!.emitted++;
        }
        if (stop === SAMPLE) {
          const n = res.lens[sj++]!;
          const s: Sample = {
            input_ids: res.ids.subarray(at, at + n),
            labels: res.labels.subarray(at, at + n),
            source: { file, line: res.firstLine + i + 1, offset: res.offsets[i]! },
          };
          at += n;
          yield s;
          continue;
        }
        const st = stats[stop]!;
        st.seen++;
        const rej = res.rejects[rj++]!;
        if (rej.fatal)
          throw Object.assign(new Error(rej.fatal.message), {
            name: rej.fatal.name,
            ...(rej.fatal.stack ? { stack: rej.fatal.stack } : {}),
          });
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
async function* lineBatches(
  path: string,
  file: string,
  range: ByteRange | undefined,
  lossKey: boolean,
  batchBytes: number,
  limit: number,
): AsyncIterable<LineBatch> {
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
      if (nl < 0) {
        skipping += chunk.length;
        continue;
      }
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
