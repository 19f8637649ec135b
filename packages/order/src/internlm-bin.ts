import { checkMaxRecordBytes, recordTooLarge } from './record-size.ts';
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { DataError, defineStage, fromIterable, type CountedStage, type OnError, type Provenance } from '@weft/core';
import { readNpy, type NpyArray } from './npy.ts';
import { parseTokensLine } from './tokens-line.ts';

/** The `.bin.meta` index of an InternLM `.bin`: byte offset and token count of every line. */
export interface BinMeta {
  /** The `.bin` file the meta describes. */
  file: string;
  count: number;
  /** Byte offset of line i (doubles: int64 offsets stay exact below 2^53). */
  offsets: Float64Array;
  /** Token count of line i (the meta's last column). */
  lengths: Int32Array;
}

/** One line of a `.bin`: its tokens (negative = no loss) and where it came from. */
export interface TokenRecord {
  tokens: Int32Array;
  source: Provenance;
}

const INTEGER_DTYPES = new Set(['<i2', '<u2', '<i4', '<u4', '<i8', '<u8', '|u1', '<u1', '|i1', '<i1']);

/** Check shape and dtype of a parsed meta array and split it into offsets and lengths. */
export function metaFromNpy(arr: NpyArray, binPath: string, metaPath = `${binPath}.meta`): BinMeta {
  const bad = (d: string): DataError => new DataError(d, { file: metaPath }, { reason: 'bad-meta' });
  if (!INTEGER_DTYPES.has(arr.dtype)) throw bad(`.meta dtype ${arr.dtype} is not an integer type`);
  if (arr.shape.length !== 2 || arr.shape[1]! < 2) {
    throw bad(`.meta shape is (${arr.shape.join(', ')}), expected (N, 2): byte offset and token count per line`);
  }
  const [n, cols] = arr.shape as [number, number];
  const offsets = new Float64Array(n);
  const lengths = new Int32Array(n);
  const d = arr.data;
  for (let i = 0; i < n; i++) {
    // xtuner reads column 0 (offset) and the last column (token count) of any width.
    const off = Number(d[i * cols]!),
      len = Number(d[i * cols + cols - 1]!);
    if (off < 0 || len < 0 || len > 0x7fffffff) throw bad(`row ${i}: offset ${off} / token count ${len} out of range`);
    offsets[i] = off;
    lengths[i] = len;
  }
  return { file: binPath, count: n, offsets, lengths };
}

/**
 * Read `<bin>.meta` and check it against the `.bin`: shape (N, 2), offsets strictly increasing
 * and inside the file. int32 and int64 metas are both accepted.
 *
 * @example
 * const meta = await readBinMeta('data/en/a.bin');
 * meta.count; meta.lengths[0];
 */
export async function readBinMeta(binPath: string): Promise<BinMeta> {
  const metaPath = `${binPath}.meta`;
  let arr: NpyArray;
  try {
    arr = await readNpy(metaPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DataError(
        `missing ${metaPath}: every .bin needs its .bin.meta (rebuild it with \`weft meta ${binPath}\`)`,
        { file: binPath },
        { reason: 'missing-meta' },
      );
    }
    throw e;
  }
  const meta = metaFromNpy(arr, binPath, metaPath);
  const size = (await stat(binPath)).size;
  for (let i = 0; i < meta.count; i++) {
    const off = meta.offsets[i]!;
    if (i > 0 && off <= meta.offsets[i - 1]!) {
      throw new DataError(
        `.meta row ${i}: offset ${off} is not after the previous one (${meta.offsets[i - 1]}); the .meta does not match this .bin`,
        { file: metaPath },
        { reason: 'bad-meta' },
      );
    }
    if (off >= size) {
      throw new DataError(
        `.meta row ${i}: offset ${off} is past the end of ${binPath} (${size} bytes): the .bin is truncated or the .meta belongs to another file`,
        { file: metaPath },
        { reason: 'truncated' },
      );
    }
  }
  return meta;
}

/**
 * Random access to an InternLM `.bin` through its `.meta`, as xtuner's `JsonlDataset` does.
 * With `inMemory: true` the whole file is read once and lines are parsed from memory (no system
 * call per line: faster for shuffled access to files that fit in memory).
 *
 * @example
 * const bin = await BinFile.open('data/en/a.bin');
 * const tokens = await bin.read(0); // Int32Array
 * await bin.close();
 */
export class BinFile {
  private constructor(
    readonly path: string,
    readonly meta: BinMeta,
    readonly size: number,
    private fh: FileHandle | undefined,
    private data: Buffer | undefined,
  ) {}

  static async open(path: string, options: { inMemory?: boolean } = {}): Promise<BinFile> {
    const meta = await readBinMeta(path);
    if (options.inMemory) {
      const data = await readFile(path);
      return new BinFile(path, meta, data.length, undefined, data);
    }
    const fh = await open(path, 'r');
    const size = (await fh.stat()).size;
    return new BinFile(path, meta, size, fh, undefined);
  }

  get count(): number {
    return this.meta.count;
  }

  /** Tokens of line `i` (0-based). Line i must span exactly from its offset to the next one's. */
  async read(i: number): Promise<Int32Array> {
    if (!Number.isInteger(i) || i < 0 || i >= this.meta.count)
      throw new RangeError(`line index ${i} out of range [0, ${this.meta.count})`);
    const off = this.meta.offsets[i]!;
    const stop = i + 1 < this.meta.count ? this.meta.offsets[i + 1]! : this.size;
    const where = { file: this.path, line: i + 1, offset: off };
    let buf: Buffer;
    let bytesRead: number;
    if (this.data !== undefined) {
      buf = this.data.subarray(off, stop);
      bytesRead = buf.length;
    } else {
      if (this.fh === undefined) throw new Error(`${this.path} is closed`);
      buf = Buffer.allocUnsafe(stop - off);
      ({ bytesRead } = await this.fh.read(buf, 0, buf.length, off));
    }
    if (bytesRead !== buf.length)
      throw new DataError(
        `short read: wanted ${buf.length} bytes, got ${bytesRead} (file changed while reading?)`,
        where,
        { reason: 'truncated' },
      );
    const nl = buf.indexOf(10);
    const isLast = i + 1 === this.meta.count;
    if (nl >= 0 && nl !== buf.length - 1) {
      throw new DataError(
        `line ends at byte ${off + nl + 1} but the .meta puts the next line at ${stop}: the .meta offsets disagree with the .bin`,
        where,
        { reason: 'meta-mismatch' },
      );
    }
    if (nl < 0 && !isLast) {
      throw new DataError(
        `no newline before the next .meta offset ${stop}: the .meta offsets disagree with the .bin`,
        where,
        { reason: 'meta-mismatch' },
      );
    }
    return checkLine(buf, 0, buf.length, this.meta.lengths[i]!, where);
  }

  async close(): Promise<void> {
    this.data = undefined;
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }
}

function checkLine(bytes: Uint8Array, start: number, end: number, expected: number, where: Provenance): Int32Array {
  const r = parseTokensLine(bytes, start, end);
  if (!r.ok) throw new DataError(r.detail, where, { reason: r.reason });
  if (r.tokens.length !== expected) {
    throw new DataError(
      `line has ${r.tokens.length} tokens but the .meta says ${expected}: the .meta does not match this .bin`,
      where,
      { reason: 'meta-mismatch' },
    );
  }
  return r.tokens;
}

/** Options of the sequential `.bin` reader. */
export interface BinReadOptions {
  /** Drop lines with fewer tokens than this (xtuner's `min_length`, read from the meta). 0 keeps all. */
  minLength?: number;
  /** 'fail' (default) stops at the first bad line; 'skip' counts it and goes on. */
  onError?: OnError;
  /** Bytes per sequential read; larger: fewer system calls, more memory. */
  chunkSize?: number;
  /** The largest line to read, in bytes; a longer one is a 'record-too-large' DataError (or skipped) and never held whole. Default 256 MiB. */
  maxRecordBytes?: number;
}

/**
 * Stream `.bin` files in file order with large sequential reads, checking every line against the
 * `.meta` (offset and token count). Input: `.bin` paths; output: one record per kept line.
 * Counted per line: `seen` = lines in the meta or the file, whichever has more.
 *
 * @example
 * const read = internlmBinReader({ minLength: 50, onError: 'skip' });
 * for await (const r of read(fromIterable(['data/en/a.bin']))) use(r.tokens);
 * read.stats.toJSON(); // { seen, emitted, rejected: { short: 3 } }
 */
export function internlmBinReader(options: BinReadOptions = {}): CountedStage<string, TokenRecord> {
  const minLength = options.minLength ?? 0;
  const chunkSize = options.chunkSize ?? 1 << 23;
  if (!Number.isInteger(minLength) || minLength < 0)
    throw new RangeError(`minLength must be a non-negative integer, got ${minLength}`);
  if (!Number.isInteger(chunkSize) || chunkSize < 16)
    throw new RangeError(`chunkSize must be an integer >= 16, got ${chunkSize}`);
  // defineStage counts its input; a reader's input is files, so lines are counted by an inner stage.
  const lines = defineStage<BinLine, TokenRecord>(
    'read-internlm-bin',
    async function* (src, ctx) {
      for await (const l of src) {
        if (l.kind === 'error') {
          ctx.fail(l.error);
          continue;
        }
        if (l.expected < minLength) {
          ctx.drop('short');
          continue;
        }
        try {
          yield { tokens: checkLine(l.bytes, l.start, l.end, l.expected, l.source), source: l.source };
        } catch (e) {
          ctx.fail(e as DataError);
        }
      }
    },
    { onError: options.onError ?? 'fail' },
  );
  const limit = checkMaxRecordBytes(options.maxRecordBytes);
  const run = (files: AsyncIterable<string>): AsyncIterable<TokenRecord> =>
    lines(binLines(files, chunkSize, options.onError ?? 'fail', limit));
  return Object.assign(run, { stats: lines.stats });
}

/**
 * Read one `.bin` (with its `.meta`) in file order.
 *
 * @example
 * for await (const { tokens, source } of readInternlmBin('data/en/a.bin')) console.log(source.line, tokens.length);
 */
export function readInternlmBin(
  path: string,
  options: BinReadOptions = {},
): AsyncIterable<TokenRecord> & { stats: CountedStage<string, TokenRecord>['stats'] } {
  const reader = internlmBinReader(options);
  return Object.assign(reader(fromIterable([path])), { stats: reader.stats });
}

type BinLine =
  | { kind: 'line'; bytes: Uint8Array; start: number; end: number; expected: number; source: Provenance }
  | { kind: 'error'; error: DataError };

/**
 * Split `.bin` files into lines paired with their meta rows; disagreements become error items.
 * A line item points into the read buffer, which the next read reuses: consume it before
 * pulling the next item (the reader stage parses each line at once).
 */
async function* binLines(
  files: AsyncIterable<string>,
  chunkSize: number,
  onError: OnError,
  maxLineBytes: number,
): AsyncIterable<BinLine> {
  for await (const file of files) {
    let meta: BinMeta;
    try {
      meta = metaFromNpy(await readNpy(`${file}.meta`), file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        yield {
          kind: 'error',
          error: new DataError(
            `missing ${file}.meta: every .bin needs its .bin.meta (rebuild it with \`weft meta ${file}\`)`,
            { file },
            { reason: 'missing-meta' },
          ),
        };
        continue;
      }
      if (onError === 'skip' && e instanceof DataError) {
        yield { kind: 'error', error: e };
        continue;
      }
      throw e;
    }
    let fh: FileHandle;
    try {
      fh = await open(file, 'r');
    } catch {
      yield {
        kind: 'error',
        error: new DataError('cannot open the .bin (does it exist?)', { file }, { reason: 'missing-file' }),
      };
      continue;
    }
    try {
      let buf = Buffer.allocUnsafe(chunkSize);
      let have = 0; // valid bytes in buf
      let pos = 0; // start of the current line in buf
      let base = 0; // file offset of buf[0]
      let eof = false;
      let i = 0; // line index
      for (;;) {
        let nl = buf.indexOf(10, pos);
        if (nl >= have) nl = -1;
        if (nl < 0 && !eof && have - pos > maxLineBytes) {
          // Over the limit: report it and jump to the next line the .meta lists, never holding it whole.
          const offset = base + pos;
          const next = i + 1 < meta.count ? meta.offsets[i + 1]! : (await fh.stat()).size;
          const consistent = i < meta.count && meta.offsets[i] === offset && next > offset;
          yield {
            kind: 'error',
            error: recordTooLarge({ file, line: i + 1, offset }, consistent ? next - offset : have - pos, maxLineBytes),
          };
          if (!consistent || i + 1 >= meta.count) {
            i++;
            break;
          }
          i++;
          base = next;
          have = 0;
          pos = 0;
          continue;
        }
        if (nl < 0 && !eof) {
          // Keep the partial line, refill behind it.
          if (pos > 0) {
            buf.copyWithin(0, pos, have);
            have -= pos;
            base += pos;
            pos = 0;
          }
          if (have === buf.length) {
            const bigger = Buffer.allocUnsafe(buf.length * 2);
            buf.copy(bigger, 0, 0, have);
            buf = bigger;
          }
          const { bytesRead } = await fh.read(buf, have, buf.length - have, base + have);
          if (bytesRead === 0) eof = true;
          have += bytesRead;
          continue;
        }
        if (nl < 0 && pos === have) break; // clean end of file
        const end = nl < 0 ? have : nl + 1;
        const offset = base + pos;
        const source = { file, line: i + 1, offset };
        if (end - pos > maxLineBytes + 1) {
          yield { kind: 'error', error: recordTooLarge(source, end - pos, maxLineBytes) };
        } else if (i >= meta.count) {
          yield {
            kind: 'error',
            error: new DataError(`the .bin has more lines than its .meta (${meta.count})`, source, {
              reason: 'meta-mismatch',
            }),
          };
        } else if (meta.offsets[i] !== offset) {
          yield {
            kind: 'error',
            error: new DataError(
              `line starts at byte ${offset} but the .meta says ${meta.offsets[i]}: the .meta offsets disagree with the .bin`,
              source,
              { reason: 'meta-mismatch' },
            ),
          };
        } else {
          yield { kind: 'line', bytes: buf, start: pos, end, expected: meta.lengths[i]!, source };
        }
        i++;
        pos = end;
        if (nl < 0) break;
      }
      for (; i < meta.count; i++) {
        yield {
          kind: 'error',
          error: new DataError(
            `the .meta lists line ${i + 1} at byte ${meta.offsets[i]} but the .bin ends at byte ${base + have}: the .bin is truncated`,
            { file, line: i + 1, offset: meta.offsets[i]! },
            { reason: 'truncated' },
          ),
        };
      }
    } finally {
      await fh.close();
    }
  }
}
