import { DEFAULT_SEED, parallelMap, type Pack } from '@weft/core';
import type { PackWorkerInit } from './pack-worker.ts';
import { packLengthSeeded, type LengthSource, type PackedFile } from './length-seeded.ts';
import { binSources, type BinSource, type BinSourceOptions } from './bin-source.ts';

/** Options of {@link PackedDataset}. */
export interface PackedDatasetOptions {
  /** Tokens per pack. Larger: fewer, longer sequences (more memory per step). */
  packedLength: number;
  /** Shuffle seed of the per-file packing (xtuner's default 1024). */
  seed?: number;
}

/**
 * xtuner's tokenized InternLM dataset: every source file packed on its own with the
 * length-seeded packer, the packed files concatenated in data order. Sources with no
 * samples are skipped (as xtuner skips them).
 *
 * @example
 * const ds = PackedDataset.fromSources(sources, { packedLength: 8192 });
 * for (let i = 0; i < ds.length; i++) use(await ds.get(i));
 */
export class PackedDataset {
  readonly files: PackedFile[];
  /** `starts[f]` = index of file f's first pack; `starts[files.length]` = length. */
  private readonly starts: number[];

  protected constructor(files: PackedFile[]) {
    this.files = files;
    this.starts = [0];
    for (const f of files) this.starts.push(this.starts[this.starts.length - 1]! + f.length);
  }

  static fromSources(sources: readonly LengthSource[], options: PackedDatasetOptions): PackedDataset {
    const files = sources.filter((s) => s.lengths.length > 0).map((s) => packLengthSeeded(s, options));
    return new PackedDataset(files);
  }

  /**
   * Pack a folder of InternLM `.bin` files (with `.bin.meta`) as xtuner's tokenized loader does.
   * With `cacheDir`, tokens come from binary sidecars built there on the first run (same packs).
   *
   * @example
   * const ds = await PackedDataset.fromBinFolder('data/tokenized', { packedLength: 8192, seed: 1024, minLength: 50 });
   */
  static async fromBinFolder(folder: string, options: PackedDatasetOptions & BinSourceOptions): Promise<PackedDataset> {
    return PackedDataset.fromBinSources(await binSources(folder, options), options);
  }

  /** Pack opened `.bin` sources (made with the same `minLength`); packs can then be built on worker threads. */
  static fromBinSources(
    sources: readonly BinSource[],
    options: PackedDatasetOptions & { minLength?: number },
  ): PackedDataset {
    const ds = PackedDataset.fromSources(sources, options);
    ds.workerInit = {
      files: ds.files.map((f) => f.source.name),
      minLength: options.minLength ?? 0,
      packedLength: options.packedLength,
      seed: options.seed ?? DEFAULT_SEED,
      rows: ds.files.map((f) => (f.source as BinSource).rows),
      lengths: ds.files.map((f) => (f.source as BinSource).lengths),
      // Workers reuse the sidecars found here rather than checking (or building) them again.
      cachePaths: ds.files.map((f) => (f.source as BinSource).cachePath ?? null),
    };
    return ds;
  }

  /** Set when the sources are `.bin` files that worker threads can reopen by path. */
  private workerInit: PackWorkerInit | undefined;

  /** Number of packs over all files. */
  get length(): number {
    return this.starts[this.starts.length - 1]!;
  }

  /** Which file holds pack i, and its index there. */
  locate(i: number): { file: number; pack: number } {
    if (!Number.isInteger(i) || i < 0 || i >= this.length)
      throw new RangeError(`pack ${i} out of range [0, ${this.length})`);
    let lo = 0,
      hi = this.files.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.starts[mid]! <= i) lo = mid;
      else hi = mid - 1;
    }
    return { file: lo, pack: i - this.starts[lo]! };
  }

  private open = -1;

  async get(i: number): Promise<Pack> {
    const { file, pack } = this.locate(i);
    // Keep one source open at a time: folders may hold more files than the fd limit.
    if (this.open !== file && this.open >= 0) await this.files[this.open]!.source.close?.();
    this.open = file;
    return this.files[file]!.get(pack);
  }

  /**
   * All packs in order, as a source stage. A few packs are read ahead (`readAhead`) so that
   * file reads overlap parsing; memory stays a few packs.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<Pack> {
    yield* this.packs();
  }

  /**
   * All packs from `start` on, reading `readAhead` packs ahead of the consumer. With `workers` > 0
   * (datasets made by {@link fromBinFolder}) packs are built on worker threads, still in order.
   */
  async *packs(start = 0, readAhead = 4, workers = 0): AsyncIterable<Pack> {
    if (workers > 0 && this.workerInit) {
      const jobs = function* (this: PackedDataset) {
        for (let i = start; i < this.length; i++) yield this.locate(i);
      }.call(this);
      yield* parallelMap<{ file: number; pack: number }, Pack, PackWorkerInit>({
        module: new URL('./pack-worker.ts', import.meta.url),
        name: 'createPackBuilder',
        init: this.workerInit,
        workers,
        inFlightPerWorker: readAhead,
      })(
        (async function* () {
          yield* jobs;
        })(),
      );
      return;
    }
    const queue: Promise<Pack>[] = [];
    let next = start;
    let current: PackedFile | undefined;
    try {
      for (let f = 0; f < this.files.length; f++) {
        const file = this.files[f]!;
        current = file;
        const first = Math.max(0, next - this.starts[f]!);
        for (let p = first; p < file.length; p++) {
          const pack = file.get(p);
          pack.catch(() => {}); // read ahead: a failure is reported when its turn comes, not as unhandled
          queue.push(pack);
          if (queue.length > readAhead) yield await queue.shift()!;
        }
        // Drain this file before closing it and opening the next one.
        while (queue.length > 0) yield await queue.shift()!;
        await file.source.close?.();
        current = undefined;
        next = this.starts[f + 1]!;
      }
    } finally {
      // Also when the consumer stops early: let reads finish, then release the file.
      await Promise.allSettled(queue);
      await current?.source.close?.();
    }
  }

  /** Release open files. */
  async close(): Promise<void> {
    if (this.open >= 0) await this.files[this.open]!.source.close?.();
    this.open = -1;
  }
}
