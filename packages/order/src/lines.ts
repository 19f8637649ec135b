import { isUtf8 } from 'node:buffer';
import { open } from 'node:fs/promises';
import { DataError, type Provenance } from '@weft/core';

/** One line of a text file as raw bytes (without its '\n'), with where it was found. */
export interface RawLine {
  bytes: Buffer;
  /** 1-based line number. */
  line: number;
  /** Byte offset of the line's first byte in the file. */
  offset: number;
  file: string;
}

/**
 * Read a file in large chunks. Each chunk is a fresh buffer, so lines cut from it stay valid
 * after the next read.
 *
 * @example
 * for await (const chunk of fileChunks('a.jsonl')) total += chunk.length;
 */
export async function* fileChunks(path: string, chunkSize = 1 << 22, range?: { start: number; end: number }): AsyncIterable<Buffer> {
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
 * per-line cost low on the hot path.
 *
 * @example
 * for await (const batch of splitLines(fileChunks('a.jsonl'), 'a.jsonl'))
 *   for (const l of batch) console.log(l.line, l.offset, l.bytes.length);
 */
export async function* splitLines(chunks: AsyncIterable<Uint8Array>, file: string, first: { offset: number; line: number } = { offset: 0, line: 0 }): AsyncIterable<RawLine[]> {
  let carry: Buffer[] = [];
  let carryLen = 0;
  // `first`: where the stream starts in the file (a byte range): its offset and the lines before it.
  let line = first.line;
  let offset = first.offset;
  for await (const c of chunks) {
    const buf = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    const out: RawLine[] = [];
    let pos = 0;
    let nl = buf.indexOf(10, 0);
    if (nl >= 0 && carryLen > 0) {
      // Join the line that straddles the chunk boundary; only this piece is copied.
      carry.push(buf.subarray(0, nl));
      const bytes = Buffer.concat(carry, carryLen + nl);
      out.push({ bytes, line: ++line, offset, file });
      offset += bytes.length + 1;
      carry = [];
      carryLen = 0;
      pos = nl + 1;
      nl = buf.indexOf(10, pos);
    }
    while (nl >= 0) {
      out.push({ bytes: buf.subarray(pos, nl), line: ++line, offset, file });
      offset += nl + 1 - pos;
      pos = nl + 1;
      nl = buf.indexOf(10, pos);
    }
    if (pos < buf.length) {
      carry.push(buf.subarray(pos));
      carryLen += buf.length - pos;
    }
    if (out.length > 0) yield out;
  }
  if (carryLen > 0) yield [{ bytes: Buffer.concat(carry, carryLen), line: ++line, offset, file }];
}

/**
 * The text of a line, checked to be UTF-8 (a trailing '\r' of CRLF files is dropped).
 * Throws a DataError naming the file, line and byte offset otherwise.
 *
 * @example
 * const text = lineText(raw); // DataError: a.txt: line 3 (byte 120): line is not valid UTF-8
 */
export function lineText(raw: RawLine): string {
  const b = raw.bytes;
  if (!isUtf8(b)) {
    throw new DataError(`line is not valid UTF-8 (first bad byte at ${raw.offset + firstBadByte(b)}): re-encode the file as UTF-8`, lineSource(raw), { reason: 'non-utf8' });
  }
  const end = b.length > 0 && b[b.length - 1] === 13 ? b.length - 1 : b.length;
  return b.toString('utf8', 0, end);
}

export function lineSource(raw: RawLine): Provenance {
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
