import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sample, StageStats } from '@weft/core';
import {
  arrowSink,
  lossTokens,
  SAMPLE_COLUMNS,
  SAMPLE_INT64_COLUMNS,
  sha256Range,
  toStatsRecords,
  unitRange,
  type ShardUnit,
  type StatsRecord,
  type WrittenFile,
} from '@weft/pack/units';
import type { ProcessOptions } from './process.ts';
import { fileSamples, type SharedPools } from './samples.ts';

/** A unit opened for reading: its real byte range and digest, its samples not yet read. */
export interface OpenedUnit<S extends AsyncIterable<Sample> = AsyncIterable<Sample>> {
  u: ShardUnit;
  /** The real range read (nominal ends moved to line starts). */
  bytes: { start: number; end: number };
  /** SHA-256 of the input bytes read. */
  sha256: string;
  samples: S;
  stats: () => StageStats[];
}

/** What one unit wrote: its samples' counts, its stage counters, its Arrow files (none when it kept no row). */
export interface UnitOutput {
  bytes: { start: number; end: number };
  sha256: string;
  kept: number;
  tokens: number;
  loss_tokens: number;
  stats: StatsRecord[];
  arrow: WrittenFile[];
}

/**
 * Open one unit of a job (a whole input file, or one byte range of a file larger than the split
 * bound): find its real range, digest it, and start its samples. Range 0 starts at line 1; a later
 * range's lines are counted from its start (errors say so).
 *
 * @example
 * const o = await openUnit('data/big.jsonl', size, { file: 0, range: 1, ranges: 4, start: 268435456, end: 536870912 }, opts);
 */
export async function openUnit(
  path: string,
  size: number,
  u: ShardUnit,
  opts: ProcessOptions,
  shared: SharedPools = {},
): Promise<OpenedUnit> {
  const bytes = await unitRange(path, size, u);
  const sha256 = await sha256Range(path, u.ranges === 1 ? undefined : bytes);
  const { samples, stats } = await fileSamples(
    path,
    opts,
    u.ranges === 1 ? undefined : { ...bytes, ...(bytes.start === 0 ? { firstLine: 0 } : {}) },
    shared,
  );
  return { u, bytes, sha256, samples, stats };
}

/**
 * Write an opened unit's samples as Arrow files into `dir` (committed whole), cut at the job's
 * shard size as a single run cuts them. A unit that kept no row leaves no Arrow file (a single
 * run's writer writes none for an empty range either). `onRow` sees each written sample.
 *
 * @example
 * const out = await writeUnit(await openUnit(path, size, u, opts), 'out/shards/shard-00000-of-00004/f0-r1', opts);
 */
export async function writeUnit(
  o: OpenedUnit,
  dir: string,
  opts: Pick<ProcessOptions, 'maxShardBytes'>,
  onRow?: (s: Sample) => void | Promise<void>,
): Promise<UnitOutput> {
  let kept = 0,
    tokens = 0,
    loss = 0;
  const res = await arrowSink(o.samples, dir, {
    columns: SAMPLE_COLUMNS,
    int64Columns: SAMPLE_INT64_COLUMNS,
    maxShardBytes: opts.maxShardBytes,
    onRow: async (s: Sample) => {
      kept++;
      tokens += s.input_ids.length;
      loss += lossTokens(s.labels);
      await onRow?.(s);
    },
  });
  if (kept === 0) for (const f of res.files) await rm(join(dir, f.name), { force: true });
  return {
    bytes: o.bytes,
    sha256: o.sha256,
    kept,
    tokens,
    loss_tokens: loss,
    stats: toStatsRecords(o.stats()),
    arrow: kept === 0 ? [] : res.files,
  };
}
