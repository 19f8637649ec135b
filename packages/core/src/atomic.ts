import { mkdirSync, renameSync, rmSync, writeFileSync, openSync, writeSync, fsyncSync, closeSync } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { releaseTemp, tempPathFor as tempName } from './stale-temps.ts';

/** Write a whole file atomically: a temp file beside it, fsync, then rename over the final name. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempName(path);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    releaseTemp(tmp);
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  releaseTemp(tmp);
}

/** Synchronous twin of {@link writeFileAtomic}. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempName(path);
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    releaseTemp(tmp);
  } catch (e) {
    rmSync(tmp, { force: true });
    releaseTemp(tmp);
    throw e;
  }
}

/**
 * A file written piece by piece that appears under its final name only when committed.
 * Writes are buffered into large chunks.
 *
 * @example
 * const w = await AtomicFile.create('out/a.bin');
 * await w.write(bytes);
 * await w.commit(); // or w.abort()
 */
export class AtomicFile {
  private buf: Buffer;
  private used = 0;
  /** Bytes written so far (buffered included). */
  bytes = 0;

  private constructor(
    readonly path: string,
    readonly tmp: string,
    private fh: FileHandle,
    bufferSize: number,
  ) {
    this.buf = Buffer.allocUnsafe(bufferSize);
  }

  static async create(path: string, options: { bufferSize?: number } = {}): Promise<AtomicFile> {
    await mkdir(dirname(path), { recursive: true });
    const tmp = tempName(path);
    return new AtomicFile(path, tmp, await open(tmp, 'w'), options.bufferSize ?? 1 << 22);
  }

  async write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    this.bytes += bytes.length;
    if (bytes.length > this.buf.length - this.used) {
      await this.flush();
      if (bytes.length >= this.buf.length) {
        await this.fh.write(bytes);
        return;
      }
    }
    this.buf.set(bytes, this.used);
    this.used += bytes.length;
  }

  private async flush(): Promise<void> {
    let off = 0;
    while (off < this.used) {
      const { bytesWritten } = await this.fh.write(this.buf, off, this.used - off);
      off += bytesWritten;
    }
    this.used = 0;
  }

  async commit(): Promise<void> {
    await this.flush();
    await this.fh.sync();
    await this.fh.close();
    await rename(this.tmp, this.path);
    releaseTemp(this.tmp);
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await rm(this.tmp, { force: true });
    releaseTemp(this.tmp);
  }
}

/** Write bytes at the current end of a raw fd, retrying short writes (sync helper for hot loops). */
export function writeAllSync(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}
