import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { checkOutputDir, OUTPUT_MARKER } from '@weft/core';
import { inputDigest, sha256Range } from '@weft/pack';
import { reusableStats, type PackStats } from '@weft/pack';
import { mergePackShards, type PackShardMarker } from './pack-shard.ts';
import { assembleSplit } from './split-assemble.ts';
import { processBaseConfig, runProcess, type FileStats, type ProcessOptions, type ProcessSummary } from './process.ts';
import { assignUnits } from '@weft/pack';
import {
  configHash,
  processJobMarker,
  readMarker,
  shardConfig,
  shardDirName,
  type ShardConfig,
  type ShardMarker,
  type UnitRecord,
} from './shard-run.ts';

/** Options of {@link mergeShards}. */
export interface MergeOptions {
  /** Packing threads (the bytes are the same for any count). */
  workers?: number;
  progress?: boolean;
  /** Also reread every shard Arrow file and check its SHA-256 against the marker (sizes are always checked). */
  verify?: boolean;
}

/** What a merge did, with the summary `weft process` would have printed for the same job. */
export interface MergeResult {
  shards: number;
  splits: number;
  /** Arrow files made part of the dataset by a hard link (no copy). */
  linked: number;
  /** Arrow files copied because a hard link was refused (another file system). */
  copied: number;
  seconds: number;
  /** `weft process` shards: the job's summary; `weft pack` shards: the packing stats. */
  summary: ProcessSummary | (PackStats & { out: string });
}

/** Which top-level settings differ between two configs, for the error message. */
function configDiff(a: ShardConfig, b: ShardConfig): string {
  const out: string[] = [];
  const keys = new Set([...Object.keys(a.options), ...Object.keys(b.options)]);
  for (const k of keys) {
    const x = JSON.stringify((a.options as Record<string, unknown>)[k]),
      y = JSON.stringify((b.options as Record<string, unknown>)[k]);
    if (x !== y) out.push(`${k} ${y ?? 'unset'} vs ${x ?? 'unset'}`);
  }
  if (JSON.stringify(a.files) !== JSON.stringify(b.files)) out.push('the input file list');
  else if (JSON.stringify(a.sizes) !== JSON.stringify(b.sizes)) out.push('input file sizes');
  if (a.split_bytes !== b.split_bytes) out.push(`split_bytes ${b.split_bytes} vs ${a.split_bytes}`);
  return out.join(', ') || 'settings';
}

/** Read and check every shard marker under `<out>/shards`: one task count, all present, one config. */
export function completedShards(out: string): ShardMarker[] {
  const shardsDir = join(out, 'shards');
  const names = existsSync(shardsDir) ? readdirSync(shardsDir) : [];
  const found = names.map((n) => /^shard-(\d{5})-of-(\d{5})$/.exec(n)).filter((m): m is RegExpExecArray => m !== null);
  if (found.length === 0)
    throw new Error(
      `weft merge: no shard folders under ${shardsDir}: run weft process --shard I/N (or --shard auto) first`,
    );
  const counts = [...new Set(found.map((m) => Number(m[2])))].sort((a, b) => a - b);
  if (counts.length > 1) {
    throw new Error(
      `weft merge: ${shardsDir} holds shards of ${counts.length} different task counts (${counts.join(', ')}): remove the folders of the runs you do not want (e.g. ${shardDirName(0, counts[0]!)})`,
    );
  }
  const count = counts[0]!;
  const markers: ShardMarker[] = [];
  const missing: number[] = [];
  for (let i = 0; i < count; i++) {
    const m = readMarker(join(shardsDir, shardDirName(i, count)));
    if (!m) missing.push(i);
    else markers.push(m);
  }
  if (missing.length > 0) {
    throw new Error(
      `weft merge: shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count} (${join(shardsDir, shardDirName(i, count))})`).join(', ')} ha${missing.length > 1 ? 've' : 's'} not completed: rerun ${missing.length > 1 ? 'those tasks' : 'that task'} alone (e.g. sbatch --array=${missing.join(',')} ... --num-shards ${count}, or --shard ${missing[0]}/${count}), then merge again`,
    );
  }
  // The config most shards share is the reference; every other shard is named.
  const byHash = new Map<string, number[]>();
  for (const m of markers) byHash.set(m.config_hash, [...(byHash.get(m.config_hash) ?? []), m.shard.index]);
  if (byHash.size > 1) {
    const [refHash, refShards] = [...byHash].sort((a, b) => b[1].length - a[1].length)[0]!;
    const ref = markers.find((m) => m.config_hash === refHash)!;
    const bad = markers.filter((m) => m.config_hash !== refHash);
    throw new Error(
      `weft merge: ${bad.map((m) => `shard ${m.shard.index}/${count} (${join(shardsDir, shardDirName(m.shard.index, count))}) was made with a different config than shard${refShards.length > 1 ? 's' : ''} ${refShards.join(', ')}: ${configDiff(ref.config, m.config)}`).join('; ')}; rerun it with the same options and inputs`,
    );
  }
  return markers;
}

/**
 * Make the shards one dataset: check that every shard of `<out>/shards` completed with the same
 * config, then give each input file its split `<out>/samples/<k>` by hard-linking the shards'
 * Arrow files into it in range order (no copy) with the `state.json` and `weft_stats.json` a
 * single `weft process` run writes, then let `runProcess` finish the job as it would: it finds
 * every split done, writes `dataset_dict.json`, packs (`--pack`: the length-seeded plan over all
 * of each split's rows, read from the shards' Arrow files) and writes `summary.json`. The result
 * is byte-identical to a single-process run with the same options.
 *
 * @example
 * const r = await mergeShards('out/big');
 * // stderr: merge: 8 shards, 12 splits, 40 Arrow files linked, 1038212 samples, 1521 packs in 14.2 s
 */
export async function mergeShards(out: string, options: MergeOptions = {}): Promise<MergeResult> {
  const t0 = Date.now();
  const markers = completedShards(out);
  const count = markers.length;
  if ((markers[0] as unknown as PackShardMarker).kind === 'pack') {
    const r = await mergePackShards(out, markers as unknown as PackShardMarker[]);
    const seconds = Number(((Date.now() - t0) / 1000).toFixed(3));
    process.stderr.write(
      `merge: ${count} pack shards, ${r.linked} Arrow files linked, ${r.stats.packs} packs, ${(r.stats.tokens / 1e6).toFixed(2)}M tokens in ${seconds.toFixed(1)} s -> ${out}\n`,
    );
    return { shards: count, splits: 1, linked: r.linked, copied: 0, seconds, summary: { out, ...r.stats } };
  }
  const ref = markers[0]!;
  const opts: ProcessOptions = {
    ...ref.config.options,
    out,
    progress: options.progress ?? true,
    workers: options.workers ?? 0,
  };
  // The inputs must still be what the shards read: the digests below stand in for rereading them.
  const now = await shardConfig(opts);
  if (configHash(now.config) !== ref.config_hash) {
    throw new Error(
      `weft merge: the inputs under ${opts.input} changed since the shards ran (${configDiff(now.config, ref.config)}): rerun every shard`,
    );
  }
  // The folder must be this job's (its tasks marked it); nothing is written into another output.
  const job = processJobMarker(opts);
  if (checkOutputDir(out, { ...job, inputs: [opts.input, opts.dataOrderPath] }).state !== 'resume') {
    throw new Error(
      `weft merge: ${out} is not marked as the output of the shards' job (${OUTPUT_MARKER} missing or changed): rerun the shard tasks`,
    );
  }
  const owners = assignUnits(now.units, count);
  const byFile: (UnitRecord & { shardDir: string })[][] = ref.config.files.map(() => []);
  const shardsDir = join(out, 'shards');
  for (const m of markers) {
    const want = now.units.filter((_, i) => owners[i] === m.shard.index);
    const got = m.units;
    const same =
      want.length === got.length && want.every((u, i) => u.file === got[i]!.file && u.range === got[i]!.range);
    if (!same)
      throw new Error(
        `weft merge: shard ${m.shard.index}/${count} (${join(shardsDir, shardDirName(m.shard.index, count))}) did not write the units the plan gives it: rerun it`,
      );
    for (const u of got) {
      for (const f of u.arrow) {
        const p = join(shardsDir, shardDirName(m.shard.index, count), u.dir, f.name);
        if (!existsSync(p) || statSync(p).size !== f.bytes)
          throw new Error(
            `weft merge: shard ${m.shard.index}/${count}: ${p} is missing or not ${f.bytes} bytes as its marker says: rerun that shard`,
          );
        if (options.verify && (await sha256Range(p)) !== f.sha256)
          throw new Error(
            `weft merge: shard ${m.shard.index}/${count}: ${p} does not have the SHA-256 its marker records (corrupted since it was written): rerun that shard`,
          );
      }
      byFile[u.file]!.push({ ...u, shardDir: join(shardsDir, shardDirName(m.shard.index, count)) });
    }
  }
  const base = processBaseConfig(opts);
  const digests: string[] = [];
  let linked = 0,
    copied = 0;
  const samplesDir = join(out, 'samples');
  await mkdir(samplesDir, { recursive: true });
  for (const [k, units] of byFile.entries()) {
    const rel = ref.config.files[k]!;
    const digest = inputDigest(units.map((u) => ({ ...u.bytes, sha256: u.sha256 })));
    digests.push(digest);
    const config = { ...base, file: rel, sha256: digest };
    const dir = join(samplesDir, String(k));
    if (reusableStats<FileStats>(dir, config)) continue;
    const r = await assembleSplit(
      dir,
      rel,
      config,
      units.map((u) => ({ ...u, from: join(u.shardDir, u.dir) })),
      opts.command ?? 'process',
    );
    linked += r.linked;
    copied += r.copied;
  }
  // The rest is exactly a single run's: every split is found done, then dataset_dict, packing, summary.
  const summary = await runProcess({
    ...opts,
    digests,
    reusedFrom: `merged from ${count} shard${count > 1 ? 's' : ''}`,
  });
  const seconds = Number(((Date.now() - t0) / 1000).toFixed(3));
  process.stderr.write(
    `merge: ${count} shards, ${byFile.length} splits, ${linked} Arrow files linked${copied ? `, ${copied} copied (hard links refused)` : ''}, ${summary.kept} samples, ${(summary.tokens / 1e6).toFixed(2)}M tokens${summary.packs !== null ? `, ${summary.packs} packs` : ''} in ${seconds.toFixed(1)} s -> ${out}\n`,
  );
  return { shards: count, splits: byFile.length, linked, copied, seconds, summary };
}

/**
 * `--merge` on a task: merge when every shard is complete and no other task has started the
 * merge (an exclusive lock file decides between tasks finishing together). Returns the merge, or
 * a reason it was left to another task / a later `weft merge`.
 *
 * @example
 * await runProcessShard(opts, shard);
 * const r = await mergeIfLast(opts.out); // { merged: false, reason: 'shards 3, 5 of 8 not complete yet' }
 */
export async function mergeIfLast(
  out: string,
  options: MergeOptions = {},
): Promise<{ merged: true; result: MergeResult } | { merged: false; reason: string }> {
  let markers: ShardMarker[];
  try {
    markers = completedShards(out);
  } catch (e) {
    const msg = (e as Error).message;
    // Tasks still running are the usual case here, not a failure.
    const waiting = /shards? (.*) ha(?:s|ve) not completed/.exec(msg);
    if (waiting)
      return {
        merged: false,
        reason: `waiting for ${waiting[1]!.replace(/ \([^)]*\)/g, '')}: the last task to finish merges (or run weft merge ${out} once all have)`,
      };
    return { merged: false, reason: msg.replace(/^weft merge: /, '') };
  }
  const lock = join(out, 'shards', `.merge-${markers[0]!.config_hash}.lock`);
  try {
    await (await open(lock, 'wx')).close();
  } catch {
    return {
      merged: false,
      reason: `another task has merged or is merging (${lock}); if none is running and ${join(out, 'summary.json')} is missing, run weft merge ${out}`,
    };
  }
  try {
    return { merged: true, result: await mergeShards(out, options) };
  } catch (e) {
    await rm(lock, { force: true });
    throw e;
  }
}
