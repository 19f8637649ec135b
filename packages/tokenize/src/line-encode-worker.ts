/**
 * The worker side of `line-encode.ts`: one batch of raw lines through read → map → template →
 * encode, as `tokenizeFile`'s stages do it per line. Imports only the per-line pieces of
 * `@weft/order` (`@weft/order/records`), so each of many workers starts light.
 */
import { DataError, fromIterable, type Provenance, type Reason, type Sample } from '@weft/core';
import { lineSource, lineText, parseJsonLine, splitLines, type RawLine } from '@weft/order/records';
import { encodePrepared } from './encode.ts';
import { workerTokenizer, type EncodeWorkerInit } from './encode-worker.ts';
import type { DatasetFormat } from './formats.ts';
import { recordToItem } from './record-item.ts';
import { messagesToTurns, pretrainPieces, turnsToPieces, type Prepared } from './template-map.ts';
import { getTemplate, type PromptTemplate } from './templates.ts';

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
export const READ = 0,
  MAP = 1,
  TEMPLATE = 2,
  ENCODE = 3,
  SAMPLE = 4;

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

/** Worker factory: loads the tokenizer once, then tokenizes batches of lines. */
export async function createLineEncoder(init: LineEncodeInit): Promise<(b: LineBatch) => Promise<LineBatchResult>> {
  const tok = await workerTokenizer(init);
  const template = typeof init.template === 'string' ? getTemplate(init.template) : init.template;
  return (b) => encodeLines(b, init, template, (items) => encodePrepared(tok, items, init.maxLength));
}

function rejectOf(e: unknown): LineReject {
  if (e instanceof DataError)
    return { reason: e.reason, error: { detail: e.detail, source: e.source, reason: e.reason } };
  const err = e instanceof Error ? e : new Error(String(e));
  return { fatal: { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) } };
}

/** One batch through read → map → template → encode, as `tokenizeFile`'s stages do it per line. */
async function encodeLines(
  b: LineBatch,
  init: LineEncodeInit,
  template: PromptTemplate,
  encodeMany: (items: Prepared[]) => Promise<(Sample | null)[]>,
): Promise<LineBatchResult> {
  const rejects: LineReject[] = [];
  const stops: number[] = [];
  const offsets: number[] = [];
  const prepared: Prepared[] = [];
  const preparedAt: number[] = []; // line index of each prepared record
  let lines: RawLine[];
  if (b.tooLarge !== undefined)
    lines = [
      { bytes: Buffer.alloc(0), line: b.first.line + 1, offset: b.first.offset, file: b.file, tooLarge: b.tooLarge },
    ];
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
      if (text.trim() === '') {
        stop(READ, { reason: 'empty' });
        continue;
      }
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
    if (item === null) {
      stop(MAP, { reason: 'no-output' });
      continue;
    }
    // template (template-map.ts templateMap).
    try {
      if ('text' in item && typeof item.text === 'string')
        prepared.push({ pieces: pretrainPieces(item.text), source: item.source });
      else {
        const turns = messagesToTurns((item as { messages: Parameters<typeof messagesToTurns>[0] }).messages);
        if (turns.length === 0) {
          stop(TEMPLATE, { reason: 'empty-conversation' });
          continue;
        }
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
  const ids = new Int32Array(total),
    labels = new Int32Array(total);
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
  return {
    firstLine: b.first.line,
    stops: Uint8Array.from(stops),
    offsets: Float64Array.from(offsets),
    lens: Int32Array.from(lens),
    ids,
    labels,
    rejects: merged,
  };
}
