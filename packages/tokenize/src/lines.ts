import { createReadStream } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { DataError } from '@weft/core';
import { parseJsonDocument } from '@weft/order';

/** One line of a text file: its text (without the line break), 1-based number and byte offset. */
export interface Line {
  text: string;
  /** The line as in the file, with its `\n` when it had one (InternLM's jsonl quirk needs it). */
  raw: string;
  line: number;
  offset: number;
}

/**
 * Read a UTF-8 file line by line with provenance, splitting on `\n` only (as Python's
 * `for line in f` does in text mode, apart from universal newlines: `\r\n` is kept as `\r` + break).
 * A line that is not UTF-8 is a DataError; with `onBadLine` it is handed there and left out.
 *
 * @example
 * for await (const l of readLines('a.jsonl')) console.log(l.line, l.offset, l.text);
 */
export async function* readLines(file: string, options: { onBadLine?: (e: DataError) => void } = {}): AsyncIterable<Line> {
  let pending: Buffer[] = [];
  let pendingLen = 0;
  let offset = 0;
  let lineNo = 0;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const emit = (bytes: Buffer): Line | undefined => {
    lineNo++;
    let raw: string;
    try {
      raw = decoder.decode(bytes);
    } catch {
      const e = new DataError('not valid UTF-8', { file, line: lineNo, offset }, { reason: 'bad-utf8' });
      offset += bytes.length;
      if (!options.onBadLine) throw e;
      options.onBadLine(e);
      return undefined;
    }
    const l: Line = { raw, text: raw.endsWith('\n') ? raw.slice(0, -1) : raw, line: lineNo, offset };
    offset += bytes.length;
    return l;
  };
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl + 1);
      const bytes = pendingLen > 0 ? Buffer.concat([...pending, piece]) : piece;
      pending = [];
      pendingLen = 0;
      const l = emit(bytes);
      if (l) yield l;
      start = nl + 1;
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      pendingLen += chunk.length - start;
    }
  }
  if (pendingLen > 0) {
    const l = emit(Buffer.concat(pending));
    if (l) yield l;
  }
}

/** Parse one JSON line, naming the place on failure. */
export function parseJsonLine(l: Line, file: string): unknown {
  try {
    return JSON.parse(l.text);
  } catch (e) {
    throw new DataError(`malformed JSON (${(e as Error).message})`, { file, line: l.line, offset: l.offset }, { reason: 'bad-json' });
  }
}

/** The text of a whole file, or a DataError at the first line that is not UTF-8 (never U+FFFD in its place). */
function utf8Text(bytes: Buffer, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    let start = 0;
    for (let line = 1; ; line++) {
      const nl = bytes.indexOf(10, start);
      const end = nl < 0 ? bytes.length : nl;
      if (!isUtf8(bytes.subarray(start, end)) || nl < 0) {
        throw new DataError('not valid UTF-8: re-encode the file as UTF-8', { file, line, offset: start }, { reason: 'bad-utf8' });
      }
      start = nl + 1;
    }
  }
}

/**
 * Read a whole `.json` file that holds one array; records get their 1-based index as `line`.
 * An empty (whitespace-only) file is no records; bad JSON names its line, and a file of JSON
 * lines is told to use `.jsonl` or `--format`.
 */
export async function readJsonArray(file: string): Promise<unknown[]> {
  const data = parseJsonDocument(utf8Text(await readFile(file), file), file, {
    reason: 'bad-json',
    jsonLinesHint: 'name it .jsonl, or give --format (ftdp files are JSON lines named .json; see weft list-formats)',
  });
  if (data === undefined) return [];
  if (!Array.isArray(data)) throw new DataError(`expected a JSON array of records, got ${data === null ? 'null' : typeof data} (JSON lines belong in a .jsonl file)`, { file }, { reason: 'bad-json' });
  return data;
}
