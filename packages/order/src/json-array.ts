import { isUtf8 } from 'node:buffer';
import { DataError, defineStage } from '@weft/core';
import { openInputs, type Inputs } from './inputs.ts';
import type { JsonRecord } from './jsonl.ts';
import type { CountedSource, ReadOptions } from './line-reader.ts';
import { parseJsonDocument } from './json-document.ts';

/** One element of a JSON array document; `index` is its position in the array. */
export interface JsonArrayRecord extends JsonRecord {
  index: number;
}

/**
 * Read JSON array documents (a file holding one JSON array, such as alpaca's `.json`), one record
 * per element. A file that is not UTF-8, not valid JSON or not an array is one DataError naming
 * the file and line; with `onError: 'skip'` it is counted as one rejected item.
 *
 * @example
 * for await (const { value, index } of readJsonArray('data/alpaca.json')) ...
 */
export function readJsonArray(inputs: Inputs, options: ReadOptions = {}): CountedSource<JsonArrayRecord> {
  const stage = defineStage<JsonArrayRecord | DataError, JsonArrayRecord>('read-json-array', async function* (src, ctx) {
    for await (const item of src) {
      if (item instanceof DataError) ctx.fail(item);
      else yield item;
    }
  }, { onError: options.onError ?? 'fail' });
  return Object.assign(stage(elements(inputs, options)), { stats: stage.stats });
}

async function* elements(inputs: Inputs, options: ReadOptions): AsyncIterable<JsonArrayRecord | DataError> {
  for await (const inp of openInputs(inputs, options)) {
    if ('error' in inp) { yield inp.error; continue; }
    const parts: Buffer[] = [];
    for await (const c of inp.chunks) parts.push(c);
    const bytes = Buffer.concat(parts);
    const file = inp.file;
    if (!isUtf8(bytes)) {
      const bad = firstInvalidLine(bytes);
      yield new DataError('not valid UTF-8: re-encode the file as UTF-8', { file, ...bad }, { reason: 'non-utf8' });
      continue;
    }
    const text = bytes.toString('utf8');
    let value: unknown;
    try {
      value = parseJsonDocument(text, file);
    } catch (e) {
      if (e instanceof DataError) { yield e; continue; }
      throw e;
    }
    // An empty (whitespace-only) file holds no records, as an empty .jsonl does.
    if (value === undefined) continue;
    if (!Array.isArray(value)) {
      yield new DataError(`expected a JSON array of records, got ${value === null ? 'null' : typeof value} (JSON lines belong in a .jsonl file)`, { file }, { reason: 'schema' });
      continue;
    }
    for (let i = 0; i < value.length; i++) yield { value: value[i], index: i, source: { file } };
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
