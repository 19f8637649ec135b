import { isUtf8 } from 'node:buffer';
import { open } from 'node:fs/promises';
import { DataError, type Provenance } from '@weft/core';
import { recordTooLarge } from './record-size.ts';

/** One line of a text file as raw bytes (without its '\n'), with where it was found. */
export interface RawLine {
  bytes: Buffer;
  /** 1-based line number. */
  line: number;
  /** Byte offset of the line's first byte in the file. */
  offset: number;
  file: string;
  /** Set (to the line's size in bytes) when the line was over the reader's limit; `bytes` is then empty. */
  tooLarge?: number;
}

/**
 * Read a file in large chunks. Each chunk is a fresh buffer, so lines cut from it stay valid
 * after the next read.
 *
 * @example
 * for await (const chunk of fileChunks('a.jsonl')) total += chunk.length;
 */
export async function* fileChunks(
  path: string,
  chunkSize = 1 << 22,
  range?: { start: number; end: number },
): AsyncIterable<Buffer> {
  const fh = await open(path, 'r');
  try {
    // A byte range (a shard's slice of a large file) is read from `start` up to `end`.
    let pos = range?.start ?? 0;
    const end = range?.end ?? Infinity;
    for (;;) {
      const want = Math.min(chunkSize, end - pos);
      if (want <= 0) return;
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(buf, 0, want, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      yield bytesRead === want ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/**
 * Split a byte stream into lines, tracking line numbers and byte offsets. A last line without a
 * trailing '\n' is still a line. Lines are yielded in batches (one per chunk) to keep the
 * per-line cost low on the hot path. A line longer than `maxLineBytes` is never buffered whole:
 * its bytes are dropped as they stream past and it comes out empty with `tooLarge` set to its
 * size, so memory stays at `maxLineBytes` + one chunk whatever the input holds.
 *
 * @example
 * for await (const batch of splitLines(fileChunks('a.jsonl'), 'a.jsonl'))
 *   for (const l of batch) console.log(l.line, l.offset, l.bytes.length);
 */
export async function* splitLines(
  chunks: AsyncIterable<Uint8Array>,
  file: string,
  maxLineBytes = Infinity,
  first: { offset: number; line: number } = { offset: 0, line: 0 },
): AsyncIterable<RawLine[]> {
  let carry: Buffer[] = [];
  let carryLen = 0;
  let skipping = false; // the line in progress is over the limit: count its bytes, keep none
  // `first`: where the stream starts in the file (a byte range): its offset and the lines before it.
  let line = first.line;
  let offset = first.offset;
  const oversize = (len: number): RawLine => ({ bytes: EMPTY, line: ++line, offset, file, tooLarge: len });
  for await (const c of chunks) {
    const buf = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    const out: RawLine[] = [];
    let pos = 0;
    let nl = buf.indexOf(10, 0);
    if (nl >= 0 && (carryLen > 0 || skipping)) {
      // Join the line that straddles the chunk boundary; only this piece is copied.
      const len = carryLen + nl;
      if (skipping || len > maxLineBytes) out.push(oversize(len));
      else {
        carry.push(buf.subarray(0, nl));
        out.push({ bytes: Buffer.concat(carry, len), line: ++line, offset, file });
      }
      offset += len + 1;
      carry = [];
      carryLen = 0;
      skipping = false;
      pos = nl + 1;
      nl = buf.indexOf(10, pos);
    }
    while (nl >= 0) {
      const len = nl - pos;
      out.push(len > maxLineBytes ? oversize(len) : { bytes: buf.subarray(pos, nl), line: ++line, offset, file });
      offset += len + 1;
      pos = nl + 1;
      nl = buf.indexOf(10, pos);
    }
    if (pos < buf.length) {
      carryLen += buf.length - pos;
      if (carryLen > maxLineBytes) {
        skipping = true;
        carry = [];
      } else carry.push(buf.subarray(pos));
    }
    if (out.length > 0) yield out;
  }
  if (skipping) yield [oversize(carryLen)];
  else if (carryLen > 0) yield [{ bytes: Buffer.concat(carry, carryLen), line: ++line, offset, file }];
}

const EMPTY = Buffer.alloc(0);

/**
 * The text of a line, checked to be UTF-8 (a trailing '\r' of CRLF files is dropped).
 * Throws a DataError naming the file, line and byte offset otherwise.
 *
 * @example
 * const text = lineText(raw); // DataError: a.txt: line 3 (byte 120): line is not valid UTF-8
 * A line that `splitLines` cut for being over `maxLineBytes` throws a 'record-too-large' DataError.
 */
export function lineText(raw: RawLine, maxLineBytes = Infinity): string {
  const s = lineString(raw, maxLineBytes);
  return s.endsWith('\r') ? s.slice(0, -1) : s;
}

/**
 * The text of a line exactly as its bytes say, a trailing '\r' included (for readers that follow
 * Python's text mode, such as InternLM's tokenizer), with the same checks and errors as {@link lineText}.
 *
 * @example
 * lineString(raw); // 'a\r' for the bytes of "a\r\n"
 */
export function lineString(raw: RawLine, maxLineBytes = Infinity): string {
  if (raw.tooLarge !== undefined) throw recordTooLarge(lineSource(raw), raw.tooLarge, maxLineBytes);
  const b = raw.bytes;
  if (!isUtf8(b)) {
    throw new DataError(
      `line is not valid UTF-8 (first bad byte at ${raw.offset + firstBadByte(b)}): re-encode the file as UTF-8`,
      lineSource(raw),
      { reason: 'non-utf8' },
    );
  }
  return b.toString('utf8');
}

/** Where a line is: file, line number and byte offset. */
export function lineSource(raw: Pick<RawLine, 'file' | 'line' | 'offset'>): Provenance {
  return { file: raw.file, line: raw.line, offset: raw.offset };
}

/** Index of the first byte of the first invalid UTF-8 sequence in `b` (for error messages). */
function firstBadByte(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    const n = c < 0x80 ? 0 : c >= 0xc2 && c < 0xe0 ? 1 : c >= 0xe0 && c < 0xf0 ? 2 : c >= 0xf0 && c < 0xf5 ? 3 : -1;
    if (n < 0 || !isUtf8(b.subarray(i, i + n + 1))) return i;
    i += n + 1;
  }
  return 0;
}
