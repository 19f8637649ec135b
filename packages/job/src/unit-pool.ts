/**
 * Whole units of a job on worker threads: each worker reads, parses, templates, encodes and writes
 * one unit (an input file, or a byte range of one larger than the split bound) at a time into its
 * own folder of Arrow files, and the main thread only hands out units, keeps their order and
 * links the finished files into the splits. This is how a shard task works, one per thread, and
 * the splits come out as `weft merge` makes them from shards: byte-identical to one thread.
 *
 * Why: with records crossing threads (the line path, tokenize's line-encode.ts), the main thread
 * cutting, ordering and writing for 16 workers capped a 16-core box near 30 MB/s, and the
 * per-record messages cost every worker CPU (bench/RESULTS.md, 2026-12-02).
 */
import { mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_TEMPLATE, releaseTemp, tempPathFor, WorkerPool, type Progress } from '@weft/core';
import {
  DEFAULT_SPLIT_BYTES,
  fileDigest,
  fileRanges,
  inputDigest,
  planUnits,
  reusableStats,
  type ShardUnit,
} from '@weft/pack';
import type { DatasetFormat } from '@weft/tokenize';
import type { FileStats, ProcessOptions } from './process.ts';
import { isSplittable } from './samples.ts';
import { assembleSplit } from './split-assemble.ts';
import type { UnitOutput } from './unit.ts';
import {
  PROGRESS_BYTES,
  PROGRESS_SAMPLES,
  PROGRESS_TOKENS,
  type UnitTask,
  type UnitWorkerInit,
} from './unit-worker.ts';

/**
 * Whether whole units on `workers` threads keep them busy: handed out in data order to the first
 * free worker (as {@link UnitPool.write} does), the bytes of the busiest worker stay within 1.25×
 * an even share. Otherwise (few or very unequal units) records are spread over the workers
 * instead (tokenize's line workers); both give the same bytes.
 *
 * @example
 * unitsKeepWorkersBusy([6e6, 6e6, 6e6, 6e6], 4); // true
 * unitsKeepWorkersBusy([200e6, 1e6, 1e6], 3); // false: one worker would do nearly all of it
 */
export function unitsKeepWorkersBusy(unitBytes: readonly number[], workers: number): boolean {
  if (workers < 1 || unitBytes.length === 0) return false;
  const load = new Array<number>(workers).fill(0);
  for (const b of unitBytes) {
    let w = 0;
    for (let i = 1; i < workers; i++) if (load[i]! < load[w]!) w = i;
    load[w]! += b;
  }
  const total = unitBytes.reduce((a, b) => a + b, 0);
  return Math.max(...load) <= (1.25 * total) / workers;
}

/** Worker threads that write whole units (see the module comment); `progress()` sums what all of them have done. */
export class UnitPool {
  private readonly pool: WorkerPool<UnitTask, UnitOutput, UnitWorkerInit>;
  private readonly counters: BigInt64Array;

  private constructor(
    readonly workers: number,
    init: UnitWorkerInit,
  ) {
    this.counters = new BigInt64Array(init.progress);
    this.pool = new WorkerPool<UnitTask, UnitOutput, UnitWorkerInit>({
      module: new URL('./unit-worker.ts', import.meta.url),
      name: 'createUnitWriter',
      init,
      workers,
    });
  }

  /** Start `workers` threads for the job of `opts` (the tokenizer is loaded here once; fast tables are shared, not copied). */
  static async create(opts: ProcessOptions, workers: number): Promise<UnitPool> {
    const { loadTokenizer, encodeWorkerInit } = await import('@weft/tokenize');
    const tokenizer = await loadTokenizer(opts.tokenizer ?? 'default');
    const progress = new SharedArrayBuffer(3 * BigInt64Array.BYTES_PER_ELEMENT);
    return new UnitPool(workers, { opts, tokenizer: encodeWorkerInit(tokenizer.spec), progress });
  }

  /** Input bytes read, samples and tokens written so far by all units. */
  progress(): { bytes: number; samples: number; tokens: number } {
    return {
      bytes: Number(Atomics.load(this.counters, PROGRESS_BYTES)),
      samples: Number(Atomics.load(this.counters, PROGRESS_SAMPLES)),
      tokens: Number(Atomics.load(this.counters, PROGRESS_TOKENS)),
    };
  }

  /**
   * Write `tasks`, each worker on one unit at a time, handed out in order; results come back in
   * task order. If a unit fails, no later unit starts, the earlier ones finish, and the error of
   * the first failing unit in data order is thrown (the one a single thread would meet first).
   */
  async *write(tasks: readonly UnitTask[]): AsyncGenerator<UnitOutput> {
    const done = new Map<number, UnitOutput>();
    const running = new Map<number, Promise<void>>();
    let failed: { index: number; error: unknown } | undefined;
    let next = 0;
    for (let i = 0; i < tasks.length; i++) {
      while (failed === undefined && next < tasks.length && running.size < this.workers) {
        const k = next++;
        const p = this.pool.run(tasks[k]!).then(
          (out) => void done.set(k, out),
          (error: unknown) => {
            if (failed === undefined || k < failed.index) failed = { index: k, error };
          },
        );
        running.set(
          k,
          p.finally(() => running.delete(k)),
        );
      }
      while (!done.has(i)) {
        if (failed?.index === i) throw failed.error;
        await Promise.race(running.values());
      }
      const out = done.get(i)!;
      done.delete(i);
      yield out;
    }
  }

  /** End the threads (idempotent); a unit still running is abandoned, its folder left to the caller's cleanup. */
  close(): Promise<void> {
    return this.pool.close();
  }
}

/** What {@link writeSplitsInUnits} needs from `runProcess`. */
export interface SplitJob {
  root: string;
  files: readonly string[];
  sizes: readonly number[];
  units: readonly ShardUnit[];
  splittable: readonly boolean[];
  splitBytes: number;
  samplesDir: string;
  baseConfig: Record<string, unknown>;
  bar: Progress;
}

/**
 * `weft process`'s splits from whole units on `workers` threads: in data order, each split is
 * either found done by an earlier run (same inputs and settings) or assembled from its units' Arrow
 * files once they are written; `onSplit` sees every split in order with its digest. Unit folders
 * live in a temp folder under `samplesDir`, removed at the end (and by a rerun after a kill).
 *
 * @example
 * await writeSplitsInUnits(job, opts, 16, (k, digest, stats) => summarise(k, stats));
 */
export async function writeSplitsInUnits(
  job: SplitJob,
  opts: ProcessOptions,
  workers: number,
  onSplit: (k: number, digest: string, stats: FileStats) => void,
): Promise<void> {
  const { root, files, sizes, units, samplesDir, bar } = job;
  const command = opts.command ?? 'process';
  // Splits done by an earlier run: its digest is checked before any unit of it is handed out.
  const reused = new Map<number, { digest: string; stats: FileStats }>();
  for (const [k, rel] of files.entries()) {
    const dir = join(samplesDir, String(k));
    if (!existsSync(join(dir, 'weft_stats.json'))) continue;
    const path = join(root, rel);
    const digest =
      opts.digests?.[k] ??
      (await fileDigest(path, await fileRanges(path, sizes[k]!, job.splittable[k]!, job.splitBytes)));
    const stats = reusableStats<FileStats>(dir, { ...job.baseConfig, file: rel, sha256: digest });
    if (stats) reused.set(k, { digest, stats });
  }
  const todo = units.filter((u) => !reused.has(u.file));
  const staging = tempPathFor(join(samplesDir, 'units'));
  const pool = todo.length > 0 ? await UnitPool.create(opts, workers) : undefined;
  let bytesDone = 0; // of the splits reused, so far in data order
  let shown = { samples: 0, tokens: 0 };
  const showProgress = (): void => {
    if (!pool) return;
    const p = pool.progress();
    bar.add('samples', p.samples - shown.samples);
    bar.add('tok', p.tokens - shown.tokens);
    shown = p;
    bar.update(bytesDone + p.bytes);
  };
  const timer = setInterval(showProgress, 200);
  timer.unref();
  try {
    await mkdir(staging, { recursive: true });
    const tasks = todo.map((u) => ({
      path: join(root, files[u.file]!),
      size: sizes[u.file]!,
      unit: u,
      dir: join(staging, `f${u.file}-r${u.range}`),
    }));
    const written = pool?.write(tasks);
    let t = 0;
    for (const [k, rel] of files.entries()) {
      const r = reused.get(k);
      if (r) {
        bar.reuse({ done: sizes[k]!, counts: { samples: r.stats.kept, tok: r.stats.tokens } });
        bytesDone += sizes[k]!;
        onSplit(k, r.digest, r.stats);
        continue;
      }
      const parts: (UnitOutput & { from: string })[] = [];
      while (t < tasks.length && tasks[t]!.unit.file === k) {
        const next = await written!.next();
        if (next.done) throw new Error(`unit ${t} of ${tasks.length} was not written`);
        parts.push({ ...next.value, from: tasks[t]!.dir });
        t++;
      }
      const digest = inputDigest(parts.map((p) => ({ ...p.bytes, sha256: p.sha256 })));
      const config = { ...job.baseConfig, file: rel, sha256: digest };
      const { stats } = await assembleSplit(join(samplesDir, String(k)), rel, config, parts, command);
      showProgress();
      bar.itemDone();
      onSplit(k, digest, stats);
    }
  } finally {
    clearInterval(timer);
    await pool?.close();
    await rm(staging, { recursive: true, force: true });
    releaseTemp(staging);
  }
}

/**
 * Whether whole units on `workers` threads suit these units of `files`: every input read line by
 * line with a PROMPT_TEMPLATE, a tokenizer that runs in JavaScript (the native binding has its own
 * threads), and, with `opts.parallelism` auto, units that keep the workers busy
 * ({@link unitsKeepWorkersBusy}). Otherwise the line workers spread records.
 *
 * @example
 * if (await unitsOnWorkers(opts, files, units, 16)) for await (const out of pool.write(tasks)) record(out);
 */
export async function unitsOnWorkers(
  opts: ProcessOptions,
  files: readonly string[],
  units: readonly ShardUnit[],
  workers: number,
): Promise<boolean> {
  const how = opts.parallelism ?? process.env.WEFT_PARALLELISM ?? 'auto';
  if (how !== 'auto' && how !== 'units' && how !== 'records')
    throw new Error(`parallelism must be auto, units or records, got ${JSON.stringify(how)} (WEFT_PARALLELISM?)`);
  if (
    workers < 1 ||
    units.length === 0 ||
    how === 'records' ||
    process.env.WEFT_PARSE_IN_MAIN === '1' ||
    opts.format === 'internlm'
  )
    return false;
  const { canTokenizeLines, loadTokenizer } = await import('@weft/tokenize');
  const template = opts.template ?? DEFAULT_TEMPLATE;
  if (!files.every((f) => canTokenizeLines(f, opts.format as DatasetFormat, template))) return false;
  if ((await loadTokenizer(opts.tokenizer ?? 'default')).spec.backend === 'native') return false;
  return (
    how === 'units' ||
    unitsKeepWorkersBusy(
      units.map((u) => u.end - u.start),
      workers,
    )
  );
}

/**
 * The units of a `weft process` job when {@link unitsOnWorkers} says whole units suit it, else undefined.
 *
 * @example
 * const job = await unitSplitJob(root, files, sizes, opts, 16);
 */
export async function unitSplitJob(
  root: string,
  files: readonly string[],
  sizes: readonly number[],
  opts: ProcessOptions,
  workers: number,
): Promise<Pick<SplitJob, 'root' | 'files' | 'sizes' | 'units' | 'splittable' | 'splitBytes'> | undefined> {
  const splittable: boolean[] = [];
  for (const f of files) splittable.push(await isSplittable(f, opts.format));
  const splitBytes = opts.splitBytes ?? DEFAULT_SPLIT_BYTES;
  const units = planUnits(
    files.map((_, k) => ({ size: sizes[k]!, splittable: splittable[k]! })),
    splitBytes,
  );
  if (!(await unitsOnWorkers(opts, files, units, workers))) return undefined;
  return { root, files, sizes, units, splittable, splitBytes };
}
