import { isUtf8 } from 'node:buffer';
import { DataError, defineStage } from '@weft/core';
import { openInputs, type Inputs } from './inputs.ts';
import type { JsonRecord } from './jsonl.ts';
import type { CountedSource, ReadOptions } from './line-reader.ts';
import { splitJsonArray } from './json-array-split.ts';
import { parseJsonDocument } from './json-document.ts';
import { checkMaxRecordBytes } from './record-size.ts';

/** One element of a JSON array document; `index` is its position in the array. */
export interface JsonArrayRecord extends JsonRecord {
  index: number;
}

/**
 * Read JSON array documents (a file holding one JSON array, such as alpaca's `.json`), one record
 * per element, streaming: only one element is in memory at a time, so the document may be any
 * size while each element must be under `maxRecordBytes`. An element that is not UTF-8 or not
 * valid JSON, or is too large, is a DataError naming the file and line (with `onError: 'skip'`,
 * counted, and the next element is read); a document that is not an array, or whose brackets
 * break, is one DataError and ends that file (the elements before the break have been read).
 *
 * @example
 * for await (const { value, index } of readJsonArray('data/alpaca.json')) ...
 */
export function readJsonArray(inputs: Inputs, options: ReadOptions = {}): CountedSource<JsonArrayRecord> {
  const stage = defineStage<JsonArrayRecord | DataError, JsonArrayRecord>(
    'read-json-array',
    async function* (src, ctx) {
      for await (const item of src) {
        if (item instanceof DataError) ctx.fail(item);
        else yield item;
      }
    },
    { onError: options.onError ?? 'fail' },
  );
  return Object.assign(stage(elements(inputs, options)), { stats: stage.stats });
}

async function* elements(inputs: Inputs, options: ReadOptions): AsyncIterable<JsonArrayRecord | DataError> {
  const limit = checkMaxRecordBytes(options.maxRecordBytes);
  for await (const inp of openInputs(inputs, options)) {
    if ('error' in inp) {
      yield inp.error;
      continue;
    }
    const file = inp.file;
    for await (const el of splitJsonArray(inp.chunks, file, limit)) {
      if (el instanceof DataError) {
        yield el;
        continue;
      }
      const source = { file, line: el.line, offset: el.offset };
      if (!isUtf8(el.bytes)) {
        const bad = firstInvalidLine(el.bytes);
        yield new DataError(
          'not valid UTF-8: re-encode the file as UTF-8',
          { file, line: el.line + bad.line - 1, offset: el.offset + bad.offset },
          { reason: 'non-utf8' },
        );
        continue;
      }
      const text = el.bytes.toString('utf8');
      let value: unknown;
      try {
        value = parseJsonDocument(text, file);
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        // Place the element's error in the file: its line, byte, and column (on the element's first line, shifted by where it starts).
        const rel = e.source;
        const relLine = rel.line ?? 1;
        const detail =
          relLine === 1
            ? e.detail.replace(
                /^malformed JSON at column (\d+)/,
                (_m, c: string) => `malformed JSON at column ${Number(c) + el.column - 1}`,
              )
            : e.detail;
        yield new DataError(
          `${detail} in element ${el.index}`,
          { file, line: el.line + relLine - 1, offset: el.offset + (rel.offset ?? 0) },
          { reason: e.reason },
        );
        continue;
      }
      yield { value, index: el.index, source };
    }
  }
}

function firstInvalidLine(bytes: Buffer): { line: number; offset: number } {
  let start = 0;
  for (let line = 1; ; line++) {
    const nl = bytes.indexOf(10, start);
    const end = nl < 0 ? bytes.length : nl;
    if (!isUtf8(bytes.subarray(start, end))) return { line, offset: start };
    if (nl < 0) return { line, offset: start };
    start = nl + 1;
  }
}
