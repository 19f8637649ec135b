import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import {
  checkOutputNotEmpty,
  DEFAULT_SEED,
  readOutputMarker,
  realPathOf,
  releaseTemp,
  tempPathFor,
  writeFileAtomic,
  type OnError,
} from '@weft/core';
import { dataOrder, readDataOrder } from '@weft/order';
import type { WrittenFile } from '@weft/pack';
import { checkedBinSources } from '@weft/pack';
import { PackedDataset } from '@weft/pack';
import { PACK_COLUMNS, writePackedDataset, type PackStats } from '@weft/pack';
import { assignUnits, DEFAULT_SPLIT_BYTES, type ShardSpec } from '@weft/pack';
import { checkStillOurs, claimJobOutput, readMarker, shardDirName, SHARD_MARKER, type JobMarker } from './shard-run.ts';
import { linkArrowFiles } from './split-assemble.ts';

/** Options of `weft pack` (one run, or one shard of it). */
export interface PackJobOptions {
  folder: string;
  packedLength: number;
  seed?: number;
  minLength?: number;
  dataOrderPath?: string;
  maxShardBytes?: number;
  workers?: number;
  progress?: boolean;
  /** Consecutive `.bin` files are grouped into units of about this many bytes: the pieces shards share out. */
  splitBytes?: number;
  /** Bad lines: fail, or leave them out before the layout is drawn and count them by reason. */
  onError?: OnError;
  /** The model's vocabulary size: a line with an id at or above it fails, or is left out with onError 'skip'. */
  vocabSize?: number;
  /** No packs is an error (a DataError, exit 2) instead of a warning. */
  strict?: boolean;
  /** Replace an earlier weft output at `out` (never a folder weft did not write). */
  overwrite?: boolean;
  /** Folder of the `.bin` token sidecars (see `token-cache.ts`); unset: none. Not part of the job's settings: the bytes are the same. */
  cacheDir?: string;
  out: string;
}

/**
 * What `weft pack` records in its output's marker: its settings, paths relative to the output. A
 * sharded pack's tasks join a folder with equal settings; a single run and a merge write the same.
 */
export function packJobMarker(opts: PackJobOptions): JobMarker {
  const out = realPathOf(opts.out);
  const rel = (p: string | undefined): string | null => (p === undefined ? null : relative(out, realPathOf(p)) || '.');
  return {
    command: 'pack',
    settings: {
      folder: rel(opts.folder),
      data_order: rel(opts.dataOrderPath),
      packed_length: opts.packedLength,
      seed: opts.seed ?? DEFAULT_SEED,
      min_length: opts.minLength ?? 0,
      on_error: opts.onError ?? 'fail',
      max_shard_bytes: opts.maxShardBytes ?? 500 << 20,
      split_bytes: opts.splitBytes ?? DEFAULT_SPLIT_BYTES,
      ...(opts.vocabSize !== undefined ? { vocab_size: opts.vocabSize } : {}),
    },
  };
}

/** What a `weft pack` output's `weft_stats.json` records as its config (a single run and a merge alike). */
function statsConfig(opts: PackJobOptions): Record<string, unknown> {
  return {
    packed_length: opts.packedLength,
    seed: opts.seed ?? DEFAULT_SEED,
    min_length: opts.minLength ?? 0,
    on_error: opts.onError ?? 'fail',
  };
}

/** The marker of a `weft pack` shard (`kind: 'pack'`), beside its packs. */
export interface PackShardMarker {
  kind: 'pack';
  shard: { index: number; count: number; source: string };
  config_hash: string;
  config: { options: Record<string, unknown>; files: string[]; sizes: number[]; split_bytes: number };
  units: number[];
  stats: PackStats;
  arrow: WrittenFile[];
  seconds: number;
}

/**
 * Group the `.bin` files (in data order) into units: a unit closes once it holds `splitBytes`.
 * Returns each unit's first file index. Packing is per file, so a unit boundary never splits a
 * pack; a single run starts a new Arrow file at each boundary, as the shards do.
 *
 * @example
 * packUnits([5, 5, 20, 1], 10); // [0, 2, 3]
 */
export function packUnits(sizes: readonly number[], splitBytes: number): number[] {
  const starts: number[] = [];
  let acc = Infinity;
  sizes.forEach((s, i) => {
    if (acc >= splitBytes) {
      starts.push(i);
      acc = 0;
    }
    acc += s;
  });
  return starts;
}

async function plan(
  opts: PackJobOptions,
): Promise<{ files: string[]; sizes: number[]; starts: number[]; config: PackShardMarker['config'] }> {
  const files = opts.dataOrderPath
    ? await readDataOrder(opts.dataOrderPath, opts.folder)
    : await dataOrder(opts.folder, { fileType: '.bin' });
  if (files.length === 0) throw new Error(`no .bin files under ${opts.folder}`);
  const sizes = files.map((f) => statSync(join(opts.folder, f)).size);
  const splitBytes = opts.splitBytes ?? DEFAULT_SPLIT_BYTES;
  const options = {
    folder: opts.folder,
    packed_length: opts.packedLength,
    seed: opts.seed ?? DEFAULT_SEED,
    min_length: opts.minLength ?? 0,
    data_order: opts.dataOrderPath ?? null,
    max_shard_bytes: opts.maxShardBytes ?? 500 << 20,
    on_error: opts.onError ?? 'fail',
    ...(opts.vocabSize !== undefined ? { vocab_size: opts.vocabSize } : {}),
  };
  return {
    files,
    sizes,
    starts: packUnits(sizes, splitBytes),
    config: { options, files, sizes, split_bytes: splitBytes },
  };
}

/** Pack files [from, to) of the plan, a new Arrow file at each unit start inside; returns the stats. */
async function packRange(
  opts: PackJobOptions,
  files: string[],
  unitStarts: number[],
  from: number,
  to: number,
  dir: string,
  output: JobMarker & { overwrite: boolean; inputs?: (string | undefined)[] },
  onFiles?: (f: WrittenFile[]) => void,
): Promise<PackStats> {
  // Per file, so a file left out whole (--on-error skip, unusable .meta) still keeps the unit boundaries in place.
  const sources: (Awaited<ReturnType<typeof checkedBinSources>>['sources'][number] | undefined)[] = [];
  let lines = 0,
    kept = 0;
  const skipped: Record<string, number> = {};
  for (let i = from; i < to; i++) {
    const c = await checkedBinSources([join(opts.folder, files[i]!)], {
      minLength: opts.minLength ?? 0,
      onError: opts.onError ?? 'fail',
      ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
      ...(opts.vocabSize !== undefined ? { vocabSize: opts.vocabSize } : {}),
    });
    sources.push(c.sources[0]);
    lines += c.lines;
    kept += c.kept;
    for (const [r, n] of Object.entries(c.skipped)) skipped[r] = (skipped[r] ?? 0) + n;
  }
  const present = sources.filter((x) => x !== undefined);
  const ds = PackedDataset.fromBinSources(present, {
    packedLength: opts.packedLength,
    seed: opts.seed ?? DEFAULT_SEED,
    minLength: opts.minLength ?? 0,
  });
  // Before writing: with --strict an empty result is an error, and nothing is replaced.
  checkOutputNotEmpty(
    {
      input: opts.folder,
      read: lines,
      kept,
      packs: ds.length,
      tokens: ds.files.reduce((a, f) => a + f.plan.numTokens, 0),
      packedLength: opts.packedLength,
    },
    { strict: opts.strict ?? false, writeErr: opts.strict === undefined ? () => {} : undefined },
  );
  // Pack index where each unit (other than the first) starts.
  const cutBefore = new Set<number>();
  let at = 0,
    f = 0;
  for (let i = from; i < to; i++) {
    if (i > from && unitStarts.includes(i)) cutBefore.add(at);
    const src = sources[i - from];
    if (src !== undefined && ds.files[f]?.source === src) at += ds.files[f++]!.length;
  }
  return writePackedDataset(ds, dir, {
    progress: opts.progress ?? false,
    maxShardBytes: opts.maxShardBytes,
    workers: opts.workers ?? 0,
    cutBefore,
    extraStats: { lines, kept, skipped },
    config: statsConfig(opts),
    output,
    ...(onFiles ? { onFiles } : {}),
  });
}

/**
 * `weft pack`: every `.bin` file packed on its own (length-seeded, as xtuner), in data order, into
 * one Arrow datasets folder. Files are grouped into units of `splitBytes`; each unit starts a new
 * Arrow file, so `weft pack --shard` + `weft merge` give these exact bytes.
 *
 * @example
 * const stats = await runPack({ folder: 'data/tokenized', packedLength: 8192, out: 'out/packed' });
 */
export async function runPack(opts: PackJobOptions): Promise<PackStats> {
  const { files, starts } = await plan(opts);
  const output = {
    ...packJobMarker(opts),
    overwrite: opts.overwrite ?? false,
    inputs: [opts.folder, opts.dataOrderPath],
  };
  return packRange(opts, files, starts, 0, files.length, opts.out, output);
}

/**
 * One task of a sharded `weft pack`: packs its units (contiguous runs of files) into
 * `<out>/shards/shard-I-of-N/` with a `weft_shard.json` marker (stats, Arrow files with SHA-256,
 * config hash). Complete with the same config: nothing to do.
 *
 * @example
 * await runPackShard({ folder: 'data/tokenized', packedLength: 8192, out: 'out/packed' }, resolveShard('auto'));
 */
export async function runPackShard(opts: PackJobOptions, shard: ShardSpec): Promise<PackShardMarker> {
  const t0 = Date.now();
  const { files, sizes, starts, config } = await plan(opts);
  const hash = createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
  const units = starts.map((s, u) => ({
    file: u,
    range: 0,
    ranges: 1,
    start: 0,
    end: sizes.slice(s, starts[u + 1] ?? files.length).reduce((a, b) => a + b, 0),
  }));
  const owners = assignUnits(units, shard.count);
  const mine = units.map((_, u) => u).filter((u) => owners[u] === shard.index);
  const dir = join(opts.out, 'shards', shardDirName(shard.index, shard.count));
  const label = `pack shard ${shard.index}/${shard.count}`;
  const job = packJobMarker(opts);
  await claimJobOutput(
    opts.out,
    job,
    { overwrite: opts.overwrite, inputs: [opts.folder, opts.dataOrderPath] },
    { hash, count: shard.count },
  );
  const done = readMarker(dir) as unknown as PackShardMarker | undefined;
  if (done?.config_hash === hash) {
    process.stderr.write(`${label}: already complete (${dir}), nothing to do\n`);
    return done;
  }
  // The folder is replaced whole (temp + rename); the marker is written last, so a folder without it is redone.
  // The shard folder is staged beside itself (stale temps of dead tasks on this host removed, live ones kept).
  await mkdir(join(opts.out, 'shards'), { recursive: true });
  let arrow: WrittenFile[] = [];
  const from = mine.length > 0 ? starts[mine[0]!]! : 0;
  const to = mine.length > 0 ? (starts[mine[mine.length - 1]! + 1] ?? files.length) : 0;
  // Inside the job's folder: this shard's own earlier folder may be replaced. Empty shards are no error (--strict applies to the merged whole).
  const stats = await packRange(
    { ...opts, strict: undefined },
    files,
    starts,
    from,
    to,
    dir,
    { command: 'pack shard', settings: {}, overwrite: true },
    (f) => {
      arrow = f;
    },
  );
  if (stats.packs === 0) arrow = []; // the writer's empty file is not part of the merged dataset
  const marker: PackShardMarker = {
    kind: 'pack',
    shard: { index: shard.index, count: shard.count, source: shard.source },
    config_hash: hash,
    config,
    units: mine,
    stats,
    arrow,
    seconds: Number(((Date.now() - t0) / 1000).toFixed(3)),
  };
  checkStillOurs(opts.out, job);
  await writeFileAtomic(join(dir, SHARD_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
  process.stderr.write(
    `${label}: ${mine.length} units (${to - from} files), ${stats.packs} packs, ${(stats.tokens / 1e6).toFixed(2)}M tokens, ${arrow.length} Arrow files in ${marker.seconds.toFixed(1)} s -> ${dir}\n`,
  );
  return marker;
}

/**
 * Merge `weft pack` shards (already checked: one count, all complete, one config) into `out`
 * itself: the shards' Arrow files hard-linked in order, `state.json` last. Byte-identical to
 * `runPack` with the same options.
 */
export async function mergePackShards(
  out: string,
  markers: readonly PackShardMarker[],
): Promise<{ stats: PackStats; linked: number }> {
  const count = markers.length;
  const files = markers.flatMap((m) =>
    m.arrow.map((a) => ({ ...a, from: join(out, 'shards', shardDirName(m.shard.index, count), a.name) })),
  );
  for (const f of files)
    if (statSync(f.from, { throwIfNoEntry: false })?.size !== f.bytes)
      throw new Error(
        `weft merge: ${f.from} is missing or not ${f.bytes} bytes as its shard marker says: rerun that shard`,
      );
  const o = markers[0]!.config.options;
  if (readOutputMarker(out)?.command !== 'pack')
    throw new Error(
      `weft merge: ${out} is not marked as a weft pack output (.weft-output.json missing or changed): rerun the shard tasks`,
    );
  const sum = (k: 'files' | 'packs' | 'tokens' | 'pack_tokens' | 'waste_tokens' | 'loss_tokens' | 'lines' | 'kept') =>
    markers.reduce((a, m) => a + (m.stats[k] ?? 0), 0);
  const skipped: Record<string, number> = {};
  for (const m of markers)
    for (const [r, n] of Object.entries(m.stats.skipped ?? {})) skipped[r] = (skipped[r] ?? 0) + n;
  // The key order of a single run's stats (pack-job.ts), so weft_stats.json has the same bytes.
  const stats: PackStats = {
    files: sum('files'),
    packs: sum('packs'),
    packed_length: o.packed_length as number,
    tokens: sum('tokens'),
    pack_tokens: sum('pack_tokens'),
    waste_tokens: sum('waste_tokens'),
    padding_tokens: 0,
    loss_tokens: 0,
    lines: sum('lines'),
    kept: sum('kept'),
    skipped,
  };
  stats.loss_tokens = sum('loss_tokens');
  const weftStats = JSON.stringify(
    {
      config: {
        packed_length: o.packed_length,
        seed: o.seed,
        min_length: o.min_length,
        on_error: o.on_error ?? 'fail',
      },
      stats,
    },
    null,
    2,
  );
  const tmp = tempPathFor(join(out, 'merged'));
  await mkdir(tmp);
  if (files.length === 0) {
    // No packs: the single empty Arrow file a single run writes.
    const { ArrowDatasetWriter } = await import('@weft/pack');
    const w = await ArrowDatasetWriter.create(join(tmp, 'empty'), { columns: PACK_COLUMNS });
    const r = await w.finish();
    files.push({ ...r.files[0]!, from: join(tmp, 'empty', r.files[0]!.name) });
  }
  const { names, linked } = await linkArrowFiles(tmp, files, PACK_COLUMNS);
  await writeFileAtomic(join(tmp, 'weft_stats.json'), weftStats);
  // Into `out` beside shards/: the old state.json goes first and the new one comes last.
  await rm(join(out, 'state.json'), { force: true });
  for (const e of await readdir(out))
    if (/^data-\d+-of-\d+\.arrow$/.test(e) && !names.includes(e)) await rm(join(out, e), { force: true });
  for (const e of [...names, 'dataset_info.json', 'weft_stats.json', 'state.json'])
    await rename(join(tmp, e), join(out, e));
  await rm(tmp, { recursive: true, force: true });
  releaseTemp(tmp);
  return { stats, linked };
}
