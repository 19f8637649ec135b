import { DataError } from '@weft/core';
import { recordTooLarge } from './record-size.ts';

/** One element of a JSON array document as raw bytes, with where it starts. */
export interface ArrayElement {
  bytes: Buffer;
  index: number;
  /** 1-based line, byte offset and (byte) column of the element's first byte. */
  line: number;
  offset: number;
  column: number;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const KIND: Record<number, string> = { 0x7b: 'object', 0x22: 'string', 0x74: 'boolean', 0x66: 'boolean', 0x6e: 'null' };

/**
 * Cut a JSON array document (`[elem, elem, ...]`) into its elements' bytes as the chunks stream
 * past, so no more than one element is ever held (the document itself may be any size). Only the
 * structure is checked here (brackets, strings, commas); each element's own JSON is parsed by the
 * caller. An element over `maxElementBytes` is dropped as it streams and reported as a
 * 'record-too-large' DataError; scanning goes on after it. A structural error ends the document
 * with one DataError naming the line (the elements before it have been yielded). A blank document
 * holds no elements.
 *
 * @example
 * for await (const e of splitJsonArray(fileChunks('alpaca.json'), 'alpaca.json', 1 << 28))
 *   if (!(e instanceof DataError)) JSON.parse(e.bytes.toString('utf8'));
 */
export async function* splitJsonArray(
  chunks: AsyncIterable<Uint8Array>,
  file: string,
  maxElementBytes = Infinity,
): AsyncIterable<ArrayElement | DataError> {
  type Phase = 'start' | 'value' | 'value-or-end' | 'in-value' | 'after-value' | 'done';
  let phase: Phase = 'start';
  const stack: number[] = []; // open brackets inside the current element
  let inString = false;
  let escape = false;
  let line = 1;
  let lineStart = 0; // byte offset where the current line starts (for columns)
  let offset = 0; // offset of the current chunk's first byte
  let parts: Buffer[] = [];
  let size = 0;
  let skipping = false;
  let start = { line: 1, offset: 0, column: 1 };
  let index = 0;
  // Messages as parseJsonDocument words them (line, byte, column).
  const malformed = (what: string, at: number, l: number): DataError =>
    new DataError(
      `malformed JSON at column ${at - lineStart + 1} (${what})`,
      { file, line: l, offset: at },
      { reason: 'malformed-json' },
    );

  for await (const c of chunks) {
    const buf = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    let from = 0; // where the current element's bytes start in this chunk
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i]!;
      if (phase === 'in-value') {
        if (inString) {
          if (escape) escape = false;
          else if (b === 0x5c) escape = true;
          else if (b === 0x22) inString = false;
          else if (b === 0x0a) {
            line++;
            lineStart = offset + i + 1;
          }
          continue;
        }
        if (b === 0x22) {
          inString = true;
          continue;
        }
        if (b === 0x0a) {
          line++;
          lineStart = offset + i + 1;
          continue;
        }
        if (b === 0x5b || b === 0x7b) {
          stack.push(b);
          continue;
        }
        if (b === 0x5d || b === 0x7d) {
          if (stack.length > 0) {
            const open = stack.pop()!;
            if (open !== b - 2) {
              yield malformed(
                `'${String.fromCharCode(b)}' does not close '${String.fromCharCode(open)}'`,
                offset + i,
                line,
              );
              return;
            }
            continue;
          }
          if (b === 0x7d) {
            yield malformed(`'}' without a matching '{'`, offset + i, line);
            return;
          }
        } else if (b !== 0x2c || stack.length > 0) continue;
        // ',' or ']' at the array's own level: the element ends here.
        const piece = buf.subarray(from, i);
        size += piece.length;
        if (skipping || size > maxElementBytes)
          yield recordTooLarge({ file, line: start.line, offset: start.offset }, size, maxElementBytes);
        else {
          parts.push(piece);
          yield { bytes: Buffer.concat(parts, size), index, ...start };
        }
        index++;
        parts = [];
        size = 0;
        skipping = false;
        phase = b === 0x2c ? 'value' : 'done';
        continue;
      }
      if (b === 0x0a) {
        line++;
        lineStart = offset + i + 1;
      }
      if (WS.has(b)) continue;
      if (phase === 'start') {
        if (b !== 0x5b) {
          const kind = KIND[b] ?? (b === 0x2d || (b >= 0x30 && b <= 0x39) ? 'number' : undefined);
          yield kind
            ? new DataError(
                `expected a JSON array of records, got ${kind} (JSON lines belong in a .jsonl file)`,
                { file },
                { reason: 'schema' },
              )
            : malformed(`unexpected '${String.fromCharCode(b)}' at the start of the document`, offset + i, line);
          return;
        }
        phase = 'value-or-end';
      } else if (phase === 'value' || phase === 'value-or-end') {
        if (b === 0x5d && phase === 'value-or-end') {
          phase = 'done';
          continue;
        }
        if (b === 0x2c || b === 0x5d) {
          yield malformed(`missing value before '${String.fromCharCode(b)}'`, offset + i, line);
          return;
        }
        phase = 'in-value';
        start = { line, offset: offset + i, column: offset + i - lineStart + 1 };
        from = i;
        i--; // scan the element's first byte as part of the element
      } else if (phase === 'done') {
        yield malformed(`unexpected data after the closing ']'`, offset + i, line);
        return;
      }
    }
    if (phase === 'in-value') {
      const piece = buf.subarray(from);
      size += piece.length;
      if (size > maxElementBytes) {
        skipping = true;
        parts = [];
      } else parts.push(piece);
    }
    offset += buf.length;
  }
  const end = phase as Phase;
  // A blank file holds no records (as an empty .jsonl does).
  if (end !== 'done' && end !== 'start') yield malformed("the document ends before its closing ']'", offset, line);
}
