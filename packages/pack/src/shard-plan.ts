import { open, stat } from 'node:fs/promises';
import { UsageError } from '@weft/core';

/** Default `--split-bytes`: input files larger than this are cut into byte ranges (at line starts). */
export const DEFAULT_SPLIT_BYTES = 256 << 20;

/** Task `index` (0-based) of `count`, and where the pair was read from. */
export interface ShardSpec {
  index: number;
  count: number;
  /** 'cli', 'slurm', 'kubernetes' or 'torchrun'. */
  source: string;
}

function intVar(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`--shard auto: ${name}=${JSON.stringify(v)} is not a non-negative integer`);
  return n;
}

function checked(index: number, count: number, source: string, what: string): ShardSpec {
  if (!(count >= 1)) throw new UsageError(`--shard: the task count must be >= 1 (${what} gives ${count})`);
  if (!(index >= 0 && index < count))
    throw new UsageError(`--shard: task index ${index} is outside 0..${count - 1} (${what}): the pair is inconsistent`);
  return { index, count, source };
}

/**
 * The task index and count of this process: `I/N` as given, or with `auto` from the engine's
 * environment — a Slurm job array (`SLURM_ARRAY_TASK_ID` with `SLURM_ARRAY_TASK_COUNT`, or with
 * `SLURM_ARRAY_TASK_MIN`/`MAX`/`STEP`), a Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, the count
 * from `numShards`), or torchrun (`RANK`, `WORLD_SIZE`). Throws when none is found or a pair is
 * inconsistent, saying what it looked for.
 *
 * @example
 * resolveShard('2/8');                                              // { index: 2, count: 8, source: 'cli' }
 * resolveShard('auto', { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' }); // { index: 3, count: 4, source: 'slurm' }
 */
export function resolveShard(spec: string, env: NodeJS.ProcessEnv = process.env, numShards?: number): ShardSpec {
  if (spec !== 'auto') {
    const m = /^(\d+)\/(\d+)$/.exec(spec);
    if (!m) throw new UsageError(`--shard must be "auto" or I/N (task I of N, 0-based, e.g. 0/8), got "${spec}"`);
    if (numShards !== undefined && numShards !== Number(m[2]))
      throw new UsageError(`--shard ${spec} disagrees with --num-shards ${numShards}`);
    return checked(Number(m[1]), Number(m[2]), 'cli', `--shard ${spec}`);
  }
  const agree = (s: ShardSpec, what: string): ShardSpec => {
    if (numShards !== undefined && numShards !== s.count)
      throw new UsageError(`--shard auto: ${what} gives ${s.count} tasks but --num-shards is ${numShards}`);
    return s;
  };
  const id = intVar(env, 'SLURM_ARRAY_TASK_ID');
  if (id !== undefined) {
    // The task index is the array index itself, so a rerun of some tasks (sbatch --array=7) keeps
    // its index; such a partial array must say the job's task count with --num-shards.
    if (numShards !== undefined)
      return checked(id, numShards, 'slurm', `SLURM_ARRAY_TASK_ID=${id}, --num-shards ${numShards}`);
    const count = intVar(env, 'SLURM_ARRAY_TASK_COUNT');
    const min = intVar(env, 'SLURM_ARRAY_TASK_MIN');
    const max = intVar(env, 'SLURM_ARRAY_TASK_MAX');
    const n = count ?? (max !== undefined ? max - (min ?? 0) + 1 : undefined);
    if (n === undefined)
      throw new UsageError(
        '--shard auto: SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MIN/MAX: run as a job array (sbatch --array=0-N), or pass --num-shards',
      );
    const partial = (min !== undefined && min !== 0) || (max !== undefined && max + 1 !== n);
    if (partial) {
      throw new UsageError(
        `--shard auto: the Slurm array is not 0..N-1 (SLURM_ARRAY_TASK_MIN=${min ?? 'unset'}, MAX=${max ?? 'unset'}, COUNT=${n}): the pair is inconsistent for a whole job; when rerunning some tasks (sbatch --array=7 ...) pass --num-shards with the job's task count`,
      );
    }
    return checked(
      id,
      n,
      'slurm',
      `SLURM_ARRAY_TASK_ID=${id}, ${count !== undefined ? `SLURM_ARRAY_TASK_COUNT=${count}` : `SLURM_ARRAY_TASK_MAX=${max}`}`,
    );
  }
  const k8s = intVar(env, 'JOB_COMPLETION_INDEX');
  if (k8s !== undefined) {
    if (numShards === undefined)
      throw new UsageError(
        "--shard auto: JOB_COMPLETION_INDEX (Kubernetes Indexed Job) needs --num-shards equal to the Job's spec.completions",
      );
    return checked(k8s, numShards, 'kubernetes', `JOB_COMPLETION_INDEX=${k8s}, --num-shards ${numShards}`);
  }
  const rank = intVar(env, 'RANK'),
    world = intVar(env, 'WORLD_SIZE');
  if (rank !== undefined || world !== undefined) {
    if (rank === undefined || world === undefined)
      throw new UsageError(
        `--shard auto: ${rank === undefined ? 'WORLD_SIZE is set without RANK' : 'RANK is set without WORLD_SIZE'}; set both (torchrun does)`,
      );
    return agree(checked(rank, world, 'torchrun', `RANK=${rank}, WORLD_SIZE=${world}`), 'RANK/WORLD_SIZE');
  }
  throw new UsageError(
    '--shard auto found no task index: expected a Slurm job array (SLURM_ARRAY_TASK_ID + SLURM_ARRAY_TASK_COUNT or MIN/MAX), a Kubernetes Indexed Job (JOB_COMPLETION_INDEX with --num-shards) or torchrun (RANK + WORLD_SIZE); or pass --shard I/N',
  );
}

/** One unit of work: range `range` of input file `file`, nominal bytes [start, end) (the real cut is at the next line start). */
export interface ShardUnit {
  file: number;
  range: number;
  /** How many ranges the file is cut into. */
  ranges: number;
  start: number;
  end: number;
}

/**
 * Cut the inputs into units: a file up to `splitBytes` (or one that cannot be split) is one unit;
 * a larger one is `ceil(size / splitBytes)` units of nominal byte ranges. Depends only on the
 * file list, sizes and the bound, never on the task count, so every task computes the same plan,
 * and a single-process run writes the same Arrow files as any number of shards.
 *
 * @example
 * planUnits([{ size: 10, splittable: true }, { size: 25, splittable: true }], 10);
 * // file 0 whole; file 1 as [0,10) [10,20) [20,25)
 */
export function planUnits(files: readonly { size: number; splittable: boolean }[], splitBytes: number): ShardUnit[] {
  if (!Number.isInteger(splitBytes) || splitBytes < 1)
    throw new RangeError(`splitBytes must be a positive integer, got ${splitBytes}`);
  const units: ShardUnit[] = [];
  files.forEach((f, file) => {
    const n = f.splittable && f.size > splitBytes ? Math.ceil(f.size / splitBytes) : 1;
    for (let r = 0; r < n; r++)
      units.push({
        file,
        range: r,
        ranges: n,
        start: r * splitBytes,
        end: r === n - 1 ? f.size : (r + 1) * splitBytes,
      });
  });
  return units;
}

/**
 * Which task does each unit: contiguous runs in data order, balanced by nominal bytes (a unit
 * goes to the task its byte midpoint falls in). Some tasks get nothing when units are few.
 *
 * @example
 * assignUnits(planUnits(files, 1 << 28), 8); // [0, 0, 1, 2, ...] one task index per unit
 */
export function assignUnits(units: readonly ShardUnit[], count: number): number[] {
  let total = 0;
  for (const u of units) total += Math.max(u.end - u.start, 1);
  let at = 0;
  return units.map((u) => {
    const w = Math.max(u.end - u.start, 1);
    const t = Math.min(count - 1, Math.floor(((at + w / 2) * count) / total));
    at += w;
    return t;
  });
}

/** The first line start at or after byte `pos` (the file size if none): reads from `pos - 1` to the next '\n'. */
export async function lineStartAtOrAfter(path: string, pos: number, size: number): Promise<number> {
  if (pos <= 0) return 0;
  if (pos >= size) return size;
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 16);
    let at = pos - 1;
    while (at < size) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, at);
      if (bytesRead === 0) break;
      const nl = buf.subarray(0, bytesRead).indexOf(10);
      if (nl >= 0) return at + nl + 1;
      at += bytesRead;
    }
    return size;
  } finally {
    await fh.close();
  }
}

/**
 * The real byte range of a unit: its nominal ends moved to line starts. Neighbouring units agree
 * on their shared cut because both compute it from the same nominal position. A unit can be
 * empty (a line longer than the bound spans its whole range).
 *
 * @example
 * await unitRange('big.jsonl', 1 << 30, { start: 1 << 28, end: 1 << 29, ... }); // { start: 268435577, end: 536871001 }
 */
export async function unitRange(path: string, size: number, u: ShardUnit): Promise<{ start: number; end: number }> {
  if (u.ranges === 1) return { start: 0, end: size };
  const start = u.range === 0 ? 0 : await lineStartAtOrAfter(path, u.start, size);
  const end = u.range === u.ranges - 1 ? size : await lineStartAtOrAfter(path, u.end, size);
  return { start, end: Math.max(start, end) };
}

/** All real ranges of one file, in order (a single-process run reads a large file range by range). */
export async function fileRanges(
  path: string,
  size: number,
  splittable: boolean,
  splitBytes: number,
): Promise<{ start: number; end: number }[]> {
  const units = planUnits([{ size, splittable }], splitBytes);
  const out: { start: number; end: number }[] = [];
  for (const u of units) out.push(await unitRange(path, size, u));
  return out;
}

/** File size in bytes. */
export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
