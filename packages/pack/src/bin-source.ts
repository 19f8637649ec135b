import { join } from 'node:path';
import type { Pack } from '@weft/core';
import { BinFile, dataOrder, readBinMeta, readDataOrder, type BinMeta } from '@weft/order';
import type { LengthSource } from './length-seeded.ts';
import { ensureTokenCache, TokenFile } from './token-cache.ts';

/** Options of {@link binSources}. */
export interface BinSourceOptions {
  /** Drop samples with fewer tokens than this (xtuner's `min_length`, from the meta). 0 keeps all. */
  minLength?: number;
  /** A `data_order.txt` listing the `.bin` files; default: weft's deterministic walk of the folder. */
  dataOrderPath?: string;
  /**
   * Folder of binary token sidecars (see `token-cache.ts`): built once per `.bin`, then packing
   * reads int32 tokens by offset and parses no JSON. Unset: no cache, every read parses its line.
   */
  cacheDir?: string;
}

/**
 * One InternLM `.bin` as a {@link LengthSource}: lengths from its `.meta` (after `minLength`),
 * tokens read lazily by offset, from the binary sidecar when there is one (then `fillRange` reads
 * only a piece's tokens into the pack, with no parse), else by parsing the JSON line. The file is opened on
 * first read; `close()` releases it.
 *
 * @example
 * const src = await BinSource.open('data/a.bin', 0, { cacheDir: defaultCacheDir() });
 * const tokens = await src.read(0);
 */
export class BinSource implements LengthSource {
  private bin: Promise<BinFile> | undefined;
  private tokens: TokenFile | undefined;
  /** The last line parsed from JSON: the pieces of one long sample span many packs, and a line is parsed once, not once per piece. */
  private last: { row: number; tokens: Promise<Int32Array> } | undefined;

  /**
   * `rows[k]` = the `.bin` line of sample k (lines shorter than minLength are skipped); `lines` = lines in the meta;
   * `cachePath` = its token sidecar, when one is built.
   */
  constructor(
    readonly name: string,
    readonly lengths: Int32Array,
    readonly rows: Int32Array,
    readonly lines = rows.length,
    readonly cachePath?: string,
    private readonly meta?: BinMeta,
  ) {
    if (cachePath && meta)
      this.fillRange = (i, start, end, pack, at) => this.tokenFile().fill(this.rows[i]!, start, end, pack, at);
  }

  /** `cachePath`: a sidecar already found for this file (worker threads get it from the main thread). */
  static async open(
    path: string,
    minLength = 0,
    options: { cacheDir?: string; cachePath?: string } = {},
  ): Promise<BinSource> {
    const meta = await readBinMeta(path);
    const cachePath =
      options.cachePath ?? (options.cacheDir ? await ensureTokenCache(path, meta, options.cacheDir) : undefined);
    if (minLength <= 0)
      return new BinSource(
        path,
        meta.lengths,
        Int32Array.from({ length: meta.count }, (_, i) => i),
        meta.count,
        cachePath,
        meta,
      );
    let n = 0;
    for (let i = 0; i < meta.count; i++) if (meta.lengths[i]! >= minLength) n++;
    const lengths = new Int32Array(n),
      rows = new Int32Array(n);
    for (let i = 0, k = 0; i < meta.count; i++) {
      if (meta.lengths[i]! >= minLength) {
        lengths[k] = meta.lengths[i]!;
        rows[k++] = i;
      }
    }
    return new BinSource(path, lengths, rows, meta.count, cachePath, meta);
  }

  /** input_ids and labels of tokens [start, end) of sample i, read from the sidecar into a pack; only when cached. */
  readonly fillRange?: (i: number, start: number, end: number, pack: Pack, at: number) => void;

  private tokenFile(): TokenFile {
    return (this.tokens ??= TokenFile.open(this.cachePath!, this.meta!));
  }

  async read(i: number): Promise<Int32Array> {
    if (this.fillRange) return this.tokenFile().read(this.rows[i]!);
    const row = this.rows[i]!;
    if (this.last?.row !== row) {
      this.bin ??= BinFile.open(this.name);
      const bin = this.bin;
      this.last = { row, tokens: bin.then((b) => b.read(row)) };
    }
    return this.last.tokens;
  }

  async close(): Promise<void> {
    this.tokens?.close(); // keeps its offsets: reopening is one open()
    this.last = undefined;
    const b = this.bin;
    this.bin = undefined;
    if (b) await (await b).close();
  }
}

/**
 * The `.bin` files of a folder in data order, each as a lazily read {@link BinSource}. With
 * `cacheDir`, each file's token sidecar is found or built here (the one parse of a first run).
 *
 * @example
 * const sources = await binSources('data/tokenized', { minLength: 50, cacheDir: defaultCacheDir() });
 */
export async function binSources(folder: string, options: BinSourceOptions = {}): Promise<BinSource[]> {
  const files = options.dataOrderPath
    ? await readDataOrder(options.dataOrderPath, folder)
    : await dataOrder(folder, { fileType: '.bin' });
  const out: BinSource[] = [];
  const open = options.cacheDir ? { cacheDir: options.cacheDir } : {};
  for (const f of files) out.push(await BinSource.open(join(folder, f), options.minLength ?? 0, open));
  return out;
}
