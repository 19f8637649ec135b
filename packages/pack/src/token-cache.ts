import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DataError, pidAlive, signedTokenId, signedTokenLabel, toSignedTokens, type Pack } from '@weft/core';
import { readInternlmBin, type BinMeta } from '@weft/order';

/**
 * The binary sidecar of an InternLM `.bin`: a 64-byte header, then the `input_ids` of every line
 * (abs of the token) and then the `labels` (the token when > 0, else -100: xtuner's rule), each
 * as little-endian int32 with the lines concatenated in `.meta` order: 8 bytes per token, about
 * the size of the `.bin` itself. Built once by streaming the `.bin` (its only JSON parse); a
 * pack's piece is then two positioned reads straight into the pack's arrays, with no parse and
 * no per-token work.
 *
 * Where: `<cacheDir>/bin-tokens/<hash of the .bin's real path>-<key>.tokens`, never beside the
 * input (input folders may be read-only, and weft does not write into them). The key hashes the
 * real path, the `.bin`'s size and mtime (ns) and the sha256 of its `.meta`: any change to
 * either file makes a new key, and building it removes the older versions of the same path.
 */

const MAGIC = 'WEFTTOK2';
const HEADER = 64;

export { defaultCacheDir } from '@weft/core';

/** The cache file name of `binPath` as it is now, and what it must contain. */
async function cacheKey(
  binPath: string,
  cacheDir: string,
): Promise<{ path: string; prefix: string; key: Buffer; size: bigint; mtimeNs: bigint }> {
  const real = realpathSync(binPath);
  const st = await stat(real, { bigint: true });
  const metaHash = createHash('sha256')
    .update(await readFile(`${binPath}.meta`))
    .digest('hex');
  const key = createHash('sha256')
    .update(JSON.stringify({ v: 2, real, size: String(st.size), mtimeNs: String(st.mtimeNs), meta: metaHash }))
    .digest();
  const prefix = createHash('sha256').update(real).digest('hex').slice(0, 16);
  return {
    path: join(cacheDir, 'bin-tokens', `${prefix}-${key.toString('hex').slice(0, 32)}.tokens`),
    prefix,
    key,
    size: st.size,
    mtimeNs: st.mtimeNs,
  };
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
    return h.equals(header(meta.count, tokens, key)) && fstatSync(fd).size === HEADER + 8 * tokens;
  } finally {
    closeSync(fd);
  }
}

/** Remove older versions of this path's cache, and temp files of dead builders. */
async function removeStale(dir: string, prefix: string, keep: string): Promise<void> {
  for (const e of await readdir(dir).catch(() => [] as string[])) {
    const tmp = /^\.(.+)\.tmp-(\d+)-[0-9a-f]+$/.exec(e);
    if (
      tmp
        ? tmp[1]!.startsWith(`${prefix}-`) && !pidAlive(Number(tmp[2]))
        : e.startsWith(`${prefix}-`) && join(dir, e) !== keep
    ) {
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
 * const t = file ? TokenFile.open(file, meta) : undefined;
 */
export async function ensureTokenCache(binPath: string, meta: BinMeta, cacheDir: string): Promise<string | undefined> {
  try {
    return await findOrBuild(binPath, meta, cacheDir);
  } catch (e) {
    // A cache folder we cannot write (read-only home, full disk) costs speed, never the run.
    const code = (e as NodeJS.ErrnoException).code;
    if (code && ['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'ENOTDIR'].includes(code)) {
      if (!warned)
        process.emitWarning(
          `token cache ${cacheDir} not usable (${code}): reading .bin files as JSON; pass --cache-dir <dir> or --no-cache`,
        );
      warned = true;
      return undefined;
    }
    throw e;
  }
}

let warned = false;

async function findOrBuild(binPath: string, meta: BinMeta, cacheDir: string): Promise<string | undefined> {
  const k = await cacheKey(binPath, cacheDir);
  let tokens = 0;
  for (let i = 0; i < meta.count; i++) tokens += meta.lengths[i]!;
  if (valid(k.path, meta, tokens, k.key)) return k.path;
  const dir = dirname(k.path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(k.path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const w = new TwoStreamWriter(tmp, HEADER, HEADER + 4 * tokens);
  try {
    writeSync(w.fd, header(meta.count, tokens, k.key), 0, HEADER, 0);
    let lines = 0;
    for await (const r of readInternlmBin(binPath, { onError: 'fail' })) {
      w.line(r.tokens);
      lines++;
    }
    w.finish();
    const st = await stat(binPath, { bigint: true });
    if (lines !== meta.count || st.size !== k.size || st.mtimeNs !== k.mtimeNs) {
      rmSync(tmp, { force: true });
      return undefined;
    }
  } catch (e) {
    w.close();
    rmSync(tmp, { force: true });
    if (e instanceof DataError) return undefined;
    throw e;
  }
  renameSync(tmp, k.path);
  await removeStale(dir, k.prefix, k.path);
  return k.path;
}

/** Writes a line's input_ids and labels to their two sections of the file, through two buffers. */
class TwoStreamWriter {
  readonly fd: number;
  private readonly ids = new Int32Array(1 << 20);
  private readonly labels = new Int32Array(1 << 20);
  private used = 0;

  constructor(
    readonly path: string,
    private idsPos: number,
    private labelsPos: number,
  ) {
    this.fd = openSync(path, 'w');
  }

  line(t: Int32Array): void {
    for (let i = 0; i < t.length; i++) {
      if (this.used === this.ids.length) this.flush();
      this.ids[this.used] = signedTokenId(t[i]!);
      this.labels[this.used++] = signedTokenLabel(t[i]!);
    }
  }

  private flush(): void {
    this.idsPos += this.write(this.ids, this.idsPos);
    this.labelsPos += this.write(this.labels, this.labelsPos);
    this.used = 0;
  }

  private write(a: Int32Array, pos: number): number {
    const b = new Uint8Array(a.buffer, 0, 4 * this.used);
    for (let off = 0; off < b.length;) off += writeSync(this.fd, b, off, b.length - off, pos + off);
    return b.length;
  }

  /** Flush, fsync and close (the caller renames). */
  finish(): void {
    this.flush();
    fsyncSync(this.fd);
    this.close();
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* closed */
    }
  }
}

/**
 * Random access to a token sidecar by synchronous positioned reads (the file is opened on first read): a piece of a pack is two reads
 * straight into the pack's `input_ids` and `labels` (no parse, no per-token work).
 *
 * @example
 * const t = TokenFile.open(cachePath, meta);
 * t.fill(7, 0, 100, pack, 0); // tokens [0, 100) of line 7 into pack.input_ids / pack.labels at 0
 * t.close();
 */
export class TokenFile {
  private fd = -1;

  private constructor(
    readonly path: string,
    private readonly start: Float64Array,
    private readonly lengths: Int32Array,
    private readonly labelsAt: number,
  ) {}

  /** `meta` must be the one the cache was built for ({@link ensureTokenCache} checked it). */
  static open(path: string, meta: BinMeta): TokenFile {
    const start = new Float64Array(meta.count);
    let s = 0;
    for (let i = 0; i < meta.count; i++) {
      start[i] = s;
      s += meta.lengths[i]!;
    }
    return new TokenFile(path, start, meta.lengths, HEADER + 4 * s);
  }

  /** input_ids and labels of tokens `[from, to)` of line `line`, written into `pack` at `at`. */
  fill(line: number, from: number, to: number, pack: Pick<Pack, 'input_ids' | 'labels'>, at: number): void {
    if (!(from >= 0 && from <= to && to <= this.lengths[line]!))
      throw new RangeError(`tokens [${from}, ${to}) out of range of line ${line} (${this.lengths[line]} tokens)`);
    const pos = 4 * (this.start[line]! + from);
    this.readInto(pack.input_ids, at, to - from, HEADER + pos);
    this.readInto(pack.labels, at, to - from, this.labelsAt + pos);
  }

  /** The raw signed tokens of line `line` (negative = no loss), rebuilt from input_ids and labels. */
  read(line: number): Int32Array {
    const n = this.lengths[line]!;
    const p = { input_ids: new Int32Array(n), labels: new Int32Array(n) };
    this.fill(line, 0, n, p, 0);
    return toSignedTokens(p.input_ids, p.labels);
  }

  private readInto(a: Int32Array, at: number, n: number, pos: number): void {
    if (this.fd < 0) this.fd = openSync(this.path, 'r');
    const bytes = new Uint8Array(a.buffer, a.byteOffset + 4 * at, 4 * n);
    for (let got = 0; got < bytes.length;) {
      const r = readSync(this.fd, bytes, got, bytes.length - got, pos + got);
      if (r === 0)
        throw new DataError(
          'token cache ends early (removed or truncated while in use?); delete it to rebuild',
          { file: this.path, offset: pos + got },
          { reason: 'truncated' },
        );
      got += r;
    }
  }

  /** Release the file; a later read opens it again (random access over many files keeps few open). */
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
