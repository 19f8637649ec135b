import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { DataError, type Reason } from '@weft/core';
import { readRange } from './tensor.ts';

/** One member of a zip archive, as its central directory describes it. */
export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD = 0x06054b50,
  EOCD64 = 0x06064b50,
  LOC64 = 0x07064b50,
  CEN = 0x02014b50,
  LOC = 0x04034b50;
/** Entries read whole into memory (data.pkl and friends) must be smaller than this. */
const MAX_INLINE = 1 << 30;

/** Why a name could escape the folder it is unpacked into; torch never writes such names. */
function unsafeName(name: string): boolean {
  return (
    name.startsWith('/') ||
    name.includes('\\') ||
    /^[A-Za-z]:/.test(name) ||
    name.split('/').includes('..') ||
    name.includes('\0')
  );
}

/**
 * A zip archive read through its central directory (zip64 included); member bytes are read
 * by offset, never the whole file. This is the container of PyTorch's `torch.save`.
 *
 * @example
 * const zip = openZip('iter_500.pth');
 * const pkl = zip.read(zip.entries.get('archive/data.pkl')!);
 */
export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private dataOffsets = new Map<string, number>();

  /** `base`: where the archive starts in `file` (a torch.save blob inside a DCP .distcp file); `size`: its length. */
  private constructor(
    readonly file: string,
    readonly size: number,
    readonly base = 0,
  ) {}

  /** Open a zip file, or one embedded at `window.offset` (`window.length` bytes) inside a larger file. */
  static open(file: string, window?: { offset: number; length: number }): ZipArchive {
    const fd = openSync(file, 'r');
    let size: number;
    try {
      size = fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
    if (window && (window.offset < 0 || window.length < 0 || window.offset + window.length > size)) {
      throw new DataError(
        `zip archive of ${window.length} bytes at ${window.offset} runs past the end of the ${size}-byte file (truncated?)`,
        { file, offset: window.offset },
        { reason: 'truncated' },
      );
    }
    const z = window ? new ZipArchive(file, window.length, window.offset) : new ZipArchive(file, size);
    z.readDirectory();
    return z;
  }

  private fail(detail: string, offset: number, reason: Reason = 'bad-zip'): never {
    throw new DataError(detail, { file: this.file, offset: this.base + offset }, { reason });
  }

  private readDirectory(): void {
    const { file, size } = this;
    const tailLen = Math.min(size, 22 + 0xffff);
    const tail = Buffer.from(readRange(file, this.base + size - tailLen, tailLen));
    let at = -1;
    for (let i = tailLen - 22; i >= 0; i--)
      if (tail.readUInt32LE(i) === EOCD) {
        at = i;
        break;
      }
    if (at < 0) {
      const head = Buffer.from(readRange(file, this.base, Math.min(size, 4)));
      if (head.length >= 4 && head.readUInt32LE(0) === LOC)
        this.fail(
          'zip archive is truncated: no end-of-central-directory record (was the file copied completely?)',
          size,
          'truncated',
        );
      this.fail('not a zip archive (no end-of-central-directory record)', size, 'not-zip');
    }
    const eocdPos = size - tailLen + at;
    let count = tail.readUInt16LE(at + 10);
    let cdSize = tail.readUInt32LE(at + 12);
    let cdOffset = tail.readUInt32LE(at + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      if (at < 20 || tail.readUInt32LE(at - 20) !== LOC64)
        this.fail('zip64 end-of-central-directory locator missing', eocdPos);
      const rec64 = Number(tail.readBigUInt64LE(at - 20 + 8));
      if (rec64 + 56 > size)
        this.fail(
          `zip64 end-of-central-directory record at ${rec64} lies past the end of the file`,
          eocdPos - 20,
          'truncated',
        );
      const r = Buffer.from(readRange(file, this.base + rec64, 56));
      if (r.readUInt32LE(0) !== EOCD64) this.fail('bad zip64 end-of-central-directory signature', rec64);
      count = Number(r.readBigUInt64LE(32));
      cdSize = Number(r.readBigUInt64LE(40));
      cdOffset = Number(r.readBigUInt64LE(48));
    }
    if (cdOffset + cdSize > size || cdSize > MAX_INLINE)
      this.fail(
        `central directory (${cdSize} bytes at ${cdOffset}) lies past the end of the ${size}-byte file (truncated?)`,
        eocdPos,
        'truncated',
      );
    if (count * 46 > cdSize) this.fail(`central directory of ${cdSize} bytes cannot hold ${count} entries`, cdOffset);
    const cd = Buffer.from(readRange(file, this.base + cdOffset, cdSize));
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== CEN) this.fail(`bad central directory entry ${i}`, cdOffset + p);
      const method = cd.readUInt16LE(p + 10);
      let csize = cd.readUInt32LE(p + 20);
      let usize = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28),
        extraLen = cd.readUInt16LE(p + 30),
        commentLen = cd.readUInt16LE(p + 32);
      let local = cd.readUInt32LE(p + 42);
      if (p + 46 + nameLen + extraLen + commentLen > cd.length)
        this.fail(`central directory entry ${i} runs past the directory`, cdOffset + p);
      const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = cd.readUInt16LE(e),
          len = cd.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          const next = (): number => {
            if (q + 8 > e + 4 + len)
              this.fail(`zip64 extra field of ${JSON.stringify(name)} is too short`, cdOffset + e);
            const v = Number(cd.readBigUInt64LE(q));
            q += 8;
            return v;
          };
          if (usize === 0xffffffff) usize = next();
          if (csize === 0xffffffff) csize = next();
          if (local === 0xffffffff) local = next();
        }
        e += 4 + len;
      }
      if (unsafeName(name))
        this.fail(
          `zip entry name ${JSON.stringify(name)} points outside the archive (".." or absolute path); refusing a hostile or corrupt file`,
          cdOffset + p,
          'unsafe-name',
        );
      if (this.entries.has(name)) this.fail(`duplicate zip entry ${JSON.stringify(name)}`, cdOffset + p);
      if (local + csize > size)
        this.fail(
          `zip entry ${JSON.stringify(name)} (${csize} bytes at ${local}) runs past the end of the file (truncated?)`,
          cdOffset + p,
          'truncated',
        );
      this.entries.set(name, { name, method, compressedSize: csize, size: usize, localHeaderOffset: local });
      p = extraEnd + commentLen;
    }
  }

  /** Byte offset of the entry's data in the file (after its local header). */
  dataOffset(entry: ZipEntry): number {
    let off = this.dataOffsets.get(entry.name);
    if (off !== undefined) return off;
    if (entry.localHeaderOffset + 30 > this.size)
      this.fail(
        `local header of ${JSON.stringify(entry.name)} lies past the end of the file`,
        entry.localHeaderOffset,
        'truncated',
      );
    const h = Buffer.from(readRange(this.file, this.base + entry.localHeaderOffset, 30));
    if (h.readUInt32LE(0) !== LOC)
      this.fail(`bad local header signature for ${JSON.stringify(entry.name)}`, entry.localHeaderOffset);
    off = entry.localHeaderOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
    if (off + entry.compressedSize > this.size)
      this.fail(`data of ${JSON.stringify(entry.name)} runs past the end of the file (truncated?)`, off, 'truncated');
    off += this.base;
    this.dataOffsets.set(entry.name, off);
    return off;
  }

  /** Offset of a stored (uncompressed) entry's bytes, for reading slices of it by offset. */
  storedOffset(entry: ZipEntry): number {
    if (entry.method !== 0)
      this.fail(
        `zip entry ${JSON.stringify(entry.name)} is compressed (method ${entry.method}); torch.save stores tensor data uncompressed — re-save the checkpoint with torch.save instead of re-zipping it`,
        entry.localHeaderOffset,
        'compressed',
      );
    return this.dataOffset(entry);
  }

  /** A whole (small) entry: stored or deflated. */
  read(entry: ZipEntry): Uint8Array {
    if (entry.size > MAX_INLINE || entry.compressedSize > MAX_INLINE)
      this.fail(`zip entry ${JSON.stringify(entry.name)} is too large to read whole`, entry.localHeaderOffset);
    const off = this.dataOffset(entry);
    const raw = readRange(this.file, off, entry.compressedSize);
    if (entry.method === 0) return raw;
    if (entry.method !== 8)
      this.fail(
        `zip entry ${JSON.stringify(entry.name)} uses unsupported compression method ${entry.method}`,
        entry.localHeaderOffset,
        'compressed',
      );
    try {
      return inflateRawSync(raw, { maxOutputLength: Math.max(entry.size, 1) });
    } catch (e) {
      this.fail(`cannot inflate ${JSON.stringify(entry.name)}: ${(e as Error).message}`, off);
    }
  }
}

/** True when the file starts like a zip (local header signature). */
export function looksLikeZip(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.readUInt32LE(0) === LOC;
  } finally {
    closeSync(fd);
  }
}
