import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AtomicFile, DataError } from '@weft/core';
import { readInternlmBin, type BinMeta } from '@weft/order';

/**
 * The binary sidecar of an InternLM `.bin`: every line's tokens as little-endian int32, lines
 * concatenated in `.meta` order, behind a 64-byte header. Built once by streaming the `.bin`
 * (the only JSON parse), then packing reads token ranges by offset with no parsing at all.
 *
 * Where: `<cacheDir>/bin-tokens/<hash of the .bin's real path>-<key>.tokens`, never beside the
 * input (input folders may be read-only, and weft does not write into them). The key hashes the
 * real path, the `.bin`'s size and mtime (ns) and the sha256 of its `.meta`: any change to
 * either file makes a new key, and building it removes the older versions of the same path.
 */

const MAGIC = 'WEFTTOK1';
const HEADER = 64;

/**
 * The default cache folder: `$WEFT_CACHE_DIR`, else `$XDG_CACHE_HOME/weft`, else `~/.cache/weft`.
 *
 * @example
 * defaultCacheDir(); // '/home/me/.cache/weft'
 */
export function defaultCacheDir(): string {
  if (process.env.WEFT_CACHE_DIR) return process.env.WEFT_CACHE_DIR;
  const xdg = process.env.XDG_CACHE_HOME;
  return xdg ? join(xdg, 'weft') : join(homedir(), '.cache', 'weft');
}

/** The cache file name of `binPath` as it is now, and what it must contain. */
async function cacheKey(binPath: string, cacheDir: string): Promise<{ path: string; prefix: string; key: Buffer; size: bigint; mtimeNs: bigint }> {
  const real = realpathSync(binPath);
  const st = await stat(real, { bigint: true });
  const metaHash = createHash('sha256').update(await readFile(`${binPath}.meta`)).digest('hex');
  const key = createHash('sha256').update(JSON.stringify({ v: 1, real, size: String(st.size), mtimeNs: String(st.mtimeNs), meta: metaHash })).digest();
  const prefix = createHash('sha256').update(real).digest('hex').slice(0, 16);
  return { path: join(cacheDir, 'bin-tokens', `${prefix}-${key.toString('hex').slice(0, 32)}.tokens`), prefix, key, size: st.size, mtimeNs: st.mtimeNs };
}

function header(count: number, tokens: number, key: Buffer): Buffer {
  const h = Buffer.alloc(HEADER);
  h.write(MAGIC, 0, 'latin1');
  h.writeBigUInt64LE(BigInt(count), 8);
  h.writeBigUInt64LE(BigInt(tokens), 16);
  key.copy(h, 24);
  return h;
}

/** True when the file at `path` is a complete cache for `meta` under `key`. */
function valid(path: string, meta: BinMeta, tokens: number, key: Buffer): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const h = Buffer.alloc(HEADER);
    if (readSync(fd, h, 0, HEADER, 0) !== HEADER) return false;
    return h.equals(header(meta.count, tokens, key)) && fstatSync(fd).size === HEADER + 4 * tokens;
  } finally {
    closeSync(fd);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove older versions of this path's cache, and temp files of dead builders. */
async function removeStale(dir: string, prefix: string, keep: string): Promise<void> {
  for (const e of await readdir(dir).catch(() => [] as string[])) {
    const tmp = /^\.(.+)\.tmp-(\d+)-[0-9a-f]+$/.exec(e);
    if (tmp ? tmp[1]!.startsWith(`${prefix}-`) && !pidAlive(Number(tmp[2])) : e.startsWith(`${prefix}-`) && join(dir, e) !== keep) {
      await rm(join(dir, e), { force: true });
    }
  }
}

/**
 * Find or build the token sidecar of `binPath` (whose checked meta is `meta`) under `cacheDir`.
 * Returns the cache file, or undefined when the `.bin` cannot be cached (a line that does not
 * parse or disagrees with the meta, or the file changed while it was read): the caller then
 * reads that file as JSON, exactly as without a cache, and meets the same error at the same place.
 *
 * @example
 * const file = await ensureTokenCache('data/a.bin', await readBinMeta('data/a.bin'), defaultCacheDir());
 * const t = file && TokenFile.open(file, meta);
 */
export async function ensureTokenCache(binPath: string, meta: BinMeta, cacheDir: string): Promise<string | undefined> {
  const k = await cacheKey(binPath, cacheDir);
  let tokens = 0;
  for (let i = 0; i < meta.count; i++) tokens += meta.lengths[i]!;
  if (valid(k.path, meta, tokens, k.key)) return k.path;
  const dir = join(cacheDir, 'bin-tokens');
  const w = await AtomicFile.create(k.path, { bufferSize: 1 << 23 });
  try {
    await w.write(header(meta.count, tokens, k.key));
    let lines = 0;
    for await (const r of readInternlmBin(binPath, { onError: 'fail' })) {
      const t = r.tokens;
      await w.write(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
      lines++;
    }
    const st = await stat(binPath, { bigint: true });
    if (lines !== meta.count || st.size !== k.size || st.mtimeNs !== k.mtimeNs) {
      await w.abort();
      return undefined;
    }
  } catch (e) {
    await w.abort();
    if (e instanceof DataError) return undefined;
    throw e;
  }
  await w.commit();
  await removeStale(dir, k.prefix, k.path);
  return k.path;
}

/**
 * Random access to a token sidecar: token ranges by synchronous positioned reads (one system
 * call per range; no parsing, no per-read allocation with {@link readRange}).
 *
 * @example
 * const t = TokenFile.open(cachePath, meta);
 * t.readRange(7, 0, 100); // first 100 tokens of line 7 (a view, valid until the next readRange)
 * t.close();
 */
export class TokenFile {
  private scratch = new Int32Array(1 << 14);

  private constructor(readonly path: string, private fd: number, private readonly start: Float64Array, private readonly lengths: Int32Array) {}

  /** `meta` must be the one the cache was built for ({@link ensureTokenCache} checked it). */
  static open(path: string, meta: BinMeta): TokenFile {
    const start = new Float64Array(meta.count);
    let s = 0;
    for (let i = 0; i < meta.count; i++) {
      start[i] = s;
      s += meta.lengths[i]!;
    }
    return new TokenFile(path, openSync(path, 'r'), start, meta.lengths);
  }

  /** Tokens `[from, to)` of line `line`: a view of a buffer that the next call reuses. */
  readRange(line: number, from: number, to: number): Int32Array {
    const n = to - from;
    if (!(from >= 0 && n >= 0 && to <= this.lengths[line]!)) throw new RangeError(`tokens [${from}, ${to}) out of range of line ${line} (${this.lengths[line]} tokens)`);
    if (n > this.scratch.length) this.scratch = new Int32Array(Math.max(n, 2 * this.scratch.length));
    const out = this.scratch.subarray(0, n);
    this.fill(out, line, from);
    return out;
  }

  /** All tokens of line `line`, in a new array. */
  read(line: number): Int32Array {
    const out = new Int32Array(this.lengths[line]!);
    this.fill(out, line, 0);
    return out;
  }

  private fill(out: Int32Array, line: number, from: number): void {
    const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    const pos = HEADER + 4 * (this.start[line]! + from);
    let got = 0;
    while (got < bytes.length) {
      const r = readSync(this.fd, bytes, got, bytes.length - got, pos + got);
      if (r === 0) throw new DataError(`token cache ends early (removed or truncated while in use?); delete it to rebuild`, { file: this.path, offset: pos + got }, { reason: 'truncated' });
      got += r;
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
