import { isUtf8 } from 'node:buffer';
import { readFile, stat } from 'node:fs/promises';
import { DataError } from '@weft/core';
import { fileChunks, lineString, parseJsonDocument, parseJsonLine as parseLine, splitLines } from '@weft/order';

/** One line of a text file: its text (without the line break), 1-based number and byte offset. */
export interface Line {
  text: string;
  /** The line as in the file, with its `\n` when it had one (InternLM's jsonl quirk needs it). */
  raw: string;
  line: number;
  offset: number;
  /** Set (to the line's size in bytes, its break not included, as order's readers count it) when it was over `maxLineBytes`; the text is then empty. */
  tooLarge?: number;
}

/**
 * Read a UTF-8 file line by line with provenance, through `@weft/order`'s reader family (the same
 * line splitting, UTF-8 check, size limit and errors as every other reader), splitting on `\n` only
 * (as Python's `for line in f` does in text mode, apart from universal newlines: `\r\n` is kept as
 * `\r` + break). A line that is not UTF-8 is a 'non-utf8' DataError; with `onBadLine` it is handed
 * there and left out. A line longer than `maxLineBytes` is not held: it comes out with empty text
 * and `tooLarge` set (the caller reports it, see `recordTooLarge` in `@weft/order`).
 *
 * @example
 * for await (const l of readLines('a.jsonl')) console.log(l.line, l.offset, l.text);
 */
export async function* readLines(
  file: string,
  options: { onBadLine?: (e: DataError) => void; maxLineBytes?: number } = {},
): AsyncIterable<Line> {
  const size = (await stat(file)).size;
  for await (const batch of splitLines(fileChunks(file, 1 << 20), file, options.maxLineBytes ?? Infinity)) {
    for (const r of batch) {
      // Only the last line can lack its '\n'.
      const broken = r.offset + (r.tooLarge ?? r.bytes.length) < size;
      if (r.tooLarge !== undefined) {
        yield { raw: '', text: '', line: r.line, offset: r.offset, tooLarge: r.tooLarge };
        continue;
      }
      let text: string;
      try {
        text = lineString(r);
      } catch (e) {
        if (!(e instanceof DataError) || !options.onBadLine) throw e;
        options.onBadLine(e);
        continue;
      }
      yield { text, raw: broken ? `${text}\n` : text, line: r.line, offset: r.offset };
    }
  }
}

/** Parse one JSON line, naming the place on failure ('malformed-json', as every reader does). */
export function parseJsonLine(l: Line, file: string): unknown {
  return parseLine(l.text, { file, line: l.line, offset: l.offset });
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
        throw new DataError(
          'not valid UTF-8: re-encode the file as UTF-8',
          { file, line, offset: start },
          { reason: 'non-utf8' },
        );
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
    jsonLinesHint: 'name it .jsonl, or give --format (ftdp files are JSON lines named .json; see weft list-formats)',
  });
  if (data === undefined) return [];
  if (!Array.isArray(data))
    throw new DataError(
      `expected a JSON array of records, got ${data === null ? 'null' : typeof data} (JSON lines belong in a .jsonl file)`,
      { file },
      { reason: 'schema' },
    );
  return data;
}
