import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  claimSharedOutputDir,
  DEFAULT_PACKED_LENGTH,
  DEFAULT_SEED,
  DEFAULT_TEMPLATE,
  openedInTurn,
  prefetch,
  Progress,
  readOutputMarker,
  releaseTemp,
  removeStaleTemps,
  tempPathFor,
  writeFileAtomic,
  type Prefetched,
  type Sample,
} from '@weft/core';
import { inputFiles, PREFETCH_TOKENS, type ProcessOptions } from './process.ts';
import { closePools, isSplittable, type SharedPools } from './samples.ts';
import { openUnit, writeUnit, type OpenedUnit, type UnitOutput } from './unit.ts';
import { UnitPool, unitsOnWorkers } from './unit-pool.ts';
import { processSettings } from './process-output.ts';
import { assignUnits, DEFAULT_SPLIT_BYTES, planUnits, type ShardSpec, type ShardUnit } from '@weft/pack';

/** The marker file a completed shard leaves in its folder. */
export const SHARD_MARKER = 'weft_shard.json';

/** The options of a sharded job that must be equal in every shard (what the config hash covers). */
export type JobOptions = Omit<
  ProcessOptions,
  'out' | 'workers' | 'parallelism' | 'progress' | 'digests' | 'overwrite' | 'reusedFrom' | 'cacheDir'
>;

/** What every task of one job agrees on: the options, the inputs as listed with their sizes, the cut bound. */
export interface ShardConfig {
  options: JobOptions;
  files: string[];
  sizes: number[];
  split_bytes: number;
}

/** One unit a shard wrote: a file's byte range, its samples' counts, and the Arrow files. */
export interface UnitRecord extends ShardUnit, UnitOutput {
  /** Folder of the unit's Arrow files, relative to the shard folder. */
  dir: string;
}

/** `<out>/shards/<name>/weft_shard.json`: written last, so a shard folder with it is complete. */
export interface ShardMarker {
  shard: { index: number; count: number; source: string };
  config_hash: string;
  config: ShardConfig;
  units: UnitRecord[];
  totals: {
    units: number;
    input_bytes: number;
    read: number;
    kept: number;
    tokens: number;
    arrow_files: number;
    arrow_bytes: number;
  };
  seconds: number;
}

/** `shard-00003-of-00008`. */
export function shardDirName(index: number, count: number): string {
  return `shard-${String(index).padStart(5, '0')}-of-${String(count).padStart(5, '0')}`;
}

/** The hash that every shard's marker must share for a merge. */
export function configHash(config: ShardConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
}

/** The options that shape the output, with runProcess's defaults filled in (a CLI task and a library call agree). */
function jobOptions(opts: ProcessOptions): JobOptions {
  // --overwrite says what a task may replace, not what it writes: tasks with and without it are one job.
  const {
    out: _o,
    workers: _w,
    parallelism: _par,
    progress: _p,
    digests: _d,
    overwrite: _ov,
    reusedFrom: _r,
    cacheDir: _c,
    ...rest
  } = opts;
  const filled: JobOptions = {
    ...rest,
    tokenizer: rest.tokenizer ?? 'default',
    template: rest.template ?? DEFAULT_TEMPLATE,
    pack: rest.pack ?? false,
    packedLength: rest.packedLength ?? DEFAULT_PACKED_LENGTH,
    seed: rest.seed ?? DEFAULT_SEED,
    minLength: rest.minLength ?? 0,
    onError: rest.onError ?? 'fail',
    maxShardBytes: rest.maxShardBytes ?? 500 << 20,
  };
  // Sorted keys, undefined dropped: the hash does not depend on how the options were spelled.
  return Object.fromEntries(
    Object.entries(filled)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  ) as JobOptions;
}

/** The config of a sharded run: computed alike by every task from the file list and sizes. */
export async function shardConfig(
  opts: ProcessOptions,
): Promise<{ root: string; config: ShardConfig; units: ShardUnit[]; splittable: boolean[] }> {
  if (opts.format === 'internlm')
    throw new Error(
      '--shard: the internlm format packs .bin files directly and is not sharded; run weft process without --shard',
    );
  const { root, files } = await inputFiles(opts);
  const sizes = files.map((f) => statSync(join(root, f)).size);
  const splittable: boolean[] = [];
  for (const f of files) splittable.push(await isSplittable(f, opts.format));
  const splitBytes = opts.splitBytes ?? DEFAULT_SPLIT_BYTES;
  const config: ShardConfig = { options: jobOptions({ ...opts, splitBytes }), files, sizes, split_bytes: splitBytes };
  return {
    root,
    config,
    units: planUnits(
      files.map((_, k) => ({ size: sizes[k]!, splittable: splittable[k]! })),
      splitBytes,
    ),
    splittable,
  };
}

/** The marker of a completed shard folder, or undefined. */
export function readMarker(dir: string): ShardMarker | undefined {
  const f = join(dir, SHARD_MARKER);
  if (!existsSync(f)) return undefined;
  return JSON.parse(readFileSync(f, 'utf8')) as ShardMarker;
}

/**
 * One task of a sharded `weft process`: tokenizes its units (whole files, and byte ranges of files
 * larger than `splitBytes`) into `<out>/shards/shard-I-of-N/`, built in a temp folder and renamed
 * whole, with {@link SHARD_MARKER} recording counts, the Arrow files' SHA-256 and the config hash.
 * A task whose folder is already complete with the same config does nothing, so a rerun of the
 * whole array redoes only the shards that failed. `weft merge` makes the shards one dataset.
 *
 * @example
 * const m = await runProcessShard({ input: 'data/big', format: 'openai', out: 'out/big' }, resolveShard('auto'));
 * // stderr: shard 2/8: 3 units (412.0 MB), 103821 samples, 61.2M tokens in 95.3 s
 */
export async function runProcessShard(opts: ProcessOptions, shard: ShardSpec): Promise<ShardMarker> {
  const t0 = Date.now();
  const { root, config, units } = await shardConfig(opts);
  const hash = configHash(config);
  const owners = assignUnits(units, shard.count);
  const mine = units.filter((_, i) => owners[i] === shard.index);
  const label = `shard ${shard.index}/${shard.count}`;
  const jobMarker = processJobMarker(opts);
  const tokenizerDir = opts.tokenizer !== undefined && existsSync(opts.tokenizer) ? opts.tokenizer : undefined;
  await claimJobOutput(
    opts.out,
    jobMarker,
    { overwrite: opts.overwrite, inputs: [opts.input, opts.dataOrderPath, tokenizerDir] },
    { hash, count: shard.count },
  );
  const shardsDir = join(opts.out, 'shards');
  const name = shardDirName(shard.index, shard.count);
  const dir = join(shardsDir, name);
  const done = readMarker(dir);
  if (done?.config_hash === hash) {
    process.stderr.write(`${label}: already complete (${dir}), nothing to do\n`);
    return done;
  }
  await mkdir(shardsDir, { recursive: true });
  // A killed earlier attempt of this shard left a temp folder. Only this shard's, and only of a dead
  // process on this host: a live duplicate task, or a task on another machine, keeps its own.
  await removeStaleTemps(shardsDir, { of: name });
  const tmp = tempPathFor(dir);
  await mkdir(tmp, { recursive: true });
  const totalBytes = mine.reduce((a, u) => a + (u.end - u.start), 0);
  const records: UnitRecord[] = [];
  // Bytes read of this shard's input bytes (ETA mid-unit), samples and tokens with rates, units done.
  const bar = new Progress({
    label,
    total: totalBytes,
    unit: 'B',
    counters: ['samples', 'tok'],
    items: { total: mine.length, unit: 'units' },
    enabled: opts.progress ?? true,
  });
  let bytesBefore = 0;
  let shown = { samples: 0, tokens: 0 };
  const showUnits = (pool: UnitPool): void => {
    const p = pool.progress();
    bar.add('samples', p.samples - shown.samples);
    bar.add('tok', p.tokens - shown.tokens);
    shown = p;
    bar.update(p.bytes);
  };
  // One encoder pool for all this task's units (each worker loads the tokenizer once).
  const shared: SharedPools = {};
  const throttle = Number(process.env.WEFT_TEST_THROTTLE_MS ?? 0);
  // Unit k+1 is opened (its digest, its samples read and encoded ahead) while unit k is written.
  const open = async (k: number): Promise<OpenedUnit<Prefetched<Sample>>> => {
    const u = mine[k]!;
    const o = await openUnit(join(root, config.files[u.file]!), config.sizes[u.file]!, u, opts, shared);
    return { ...o, samples: prefetch(o.samples, { limit: PREFETCH_TOKENS, weigh: (s) => 1 + s.input_ids.length }) };
  };
  const workers = opts.workers ?? 0;
  const unitPool = (await unitsOnWorkers(opts, config.files, mine, workers))
    ? await UnitPool.create(opts, workers)
    : undefined;
  try {
    if (unitPool) {
      // Whole units on the worker threads (each reads, tokenizes and writes its own), in order here.
      const tasks = mine.map((u) => ({
        path: join(root, config.files[u.file]!),
        size: config.sizes[u.file]!,
        unit: u,
        dir: join(tmp, `f${u.file}-r${u.range}`),
      }));
      const timer = setInterval(() => showUnits(unitPool), 200);
      timer.unref();
      let k = 0;
      try {
        for await (const out of unitPool.write(tasks)) {
          const u = mine[k++]!;
          records.push({ ...u, ...out, dir: `f${u.file}-r${u.range}` });
          showUnits(unitPool);
          bar.itemDone();
        }
      } finally {
        clearInterval(timer);
        await unitPool.close();
      }
    } else
      for await (const o of openedInTurn(mine.length, open, (g) => g.samples.cancel())) {
        const { u, bytes } = o;
        const unitDir = `f${u.file}-r${u.range}`;
        const before = bytesBefore;
        const out = await writeUnit(o, join(tmp, unitDir), opts, async (s) => {
          bar.add('samples');
          bar.add('tok', s.input_ids.length);
          if (s.source?.offset !== undefined) bar.update(before + Math.max(0, s.source.offset - bytes.start));
          if (throttle > 0) await new Promise((r) => setTimeout(r, throttle));
        });
        records.push({ ...u, ...out, dir: unitDir });
        bytesBefore += u.end - u.start;
        bar.update(bytesBefore);
        bar.itemDone();
      }
  } catch (e) {
    bar.done();
    await closePools(shared);
    await rm(tmp, { recursive: true, force: true });
    releaseTemp(tmp);
    throw e;
  }
  await closePools(shared);
  bar.done();
  const marker: ShardMarker = {
    shard: { index: shard.index, count: shard.count, source: shard.source },
    config_hash: hash,
    config,
    units: records,
    totals: {
      units: records.length,
      input_bytes: totalBytes,
      read: records.reduce((a, r) => a + (r.stats[0]?.seen ?? r.kept), 0),
      kept: records.reduce((a, r) => a + r.kept, 0),
      tokens: records.reduce((a, r) => a + r.tokens, 0),
      arrow_files: records.reduce((a, r) => a + r.arrow.length, 0),
      arrow_bytes: records.reduce((a, r) => a + r.arrow.reduce((b, f) => b + f.bytes, 0), 0),
    },
    seconds: Number(((Date.now() - t0) / 1000).toFixed(3)),
  };
  await writeFileAtomic(join(tmp, SHARD_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
  checkStillOurs(opts.out, jobMarker);
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  releaseTemp(tmp);
  const t = marker.totals;
  process.stderr.write(
    `${label}: ${t.units} units (${(t.input_bytes / 1e6).toFixed(t.input_bytes < 1e7 ? 3 : 1)} MB), ${t.kept} samples of ${t.read} records, ${(t.tokens / 1e6).toFixed(2)}M tokens, ${t.arrow_files} Arrow files in ${marker.seconds.toFixed(1)} s -> ${dir}\n`,
  );
  return marker;
}

/** What a job's output marker records: the command and the settings (those of a single run, so merge and reruns resume). */
export interface JobMarker {
  command: string;
  settings: Record<string, unknown>;
}

/** The marker a sharded `weft process` writes: the one a single `weft process` writes. */
export function processJobMarker(opts: ProcessOptions): JobMarker {
  return { command: opts.command ?? 'process', settings: processSettings(opts) };
}

/**
 * Claim `out` for one task of a sharded job, safely while other tasks (on this or other machines)
 * do the same (see `claimSharedOutputDir` in core): the first task marks the folder with `marker`,
 * later ones join. With `overwrite`, another output there is replaced, and finished shard folders
 * of another job (another config hash or task count) are removed; this job's finished shards and
 * every task's temp folder are never touched.
 *
 * @example
 * await claimJobOutput('out/big', processJobMarker(opts), { overwrite: false, inputs: ['data'] }, { hash: '3f1c0a9b2d4e5f60', count: 8 });
 */
export async function claimJobOutput(
  out: string,
  marker: JobMarker,
  o: { overwrite?: boolean; inputs: readonly (string | undefined)[] },
  job: { hash: string; count: number },
): Promise<void> {
  await claimSharedOutputDir(out, { ...marker, overwrite: o.overwrite ?? false, inputs: o.inputs, keep: ['shards'] });
  if (!o.overwrite) return;
  const shardsDir = join(out, 'shards');
  if (!existsSync(shardsDir)) return;
  for (const e of await readdir(shardsDir)) {
    const n = /^shard-\d{5}-of-(\d{5})$/.exec(e);
    if (!n) continue;
    // Only folders with a marker are finished; one of this job (same hash and count) is kept.
    const other = readMarker(join(shardsDir, e));
    if (other && (other.config_hash !== job.hash || Number(n[1]) !== job.count))
      await rm(join(shardsDir, e), { recursive: true, force: true });
  }
}

/** Before a shard lands: `out` must still be this job's (another job run with --overwrite on the same folder changes its marker). */
export function checkStillOurs(out: string, marker: JobMarker): void {
  const m = readOutputMarker(out);
  if (!m || m.command !== marker.command || JSON.stringify(m.settings) !== JSON.stringify(marker.settings)) {
    throw new Error(
      `${out} was claimed by another job while this shard ran (its .weft-output.json changed): run one job per output folder, then rerun this task`,
    );
  }
}
