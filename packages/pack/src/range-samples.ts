import { StageStats, type Sample, type Reason } from '@weft/core';

/** A file's byte range: [start, end). */
export interface Range {
  start: number;
  end: number;
}

/** A stage's counters as stored in a shard marker (rejections in the order they first occurred). */
export interface StatsRecord {
  name: string;
  seen: number;
  emitted: number;
  rejected: [Reason, number][];
}

export function toStatsRecords(stats: readonly StageStats[]): StatsRecord[] {
  return stats.map((s) => ({ name: s.name, seen: s.seen, emitted: s.emitted, rejected: [...s.rejected] }));
}

export function fromStatsRecords(recs: readonly StatsRecord[]): StageStats[] {
  return recs.map((r) => {
    const s = new StageStats(r.name);
    s.seen = r.seen;
    s.emitted = r.emitted;
    for (const [k, v] of r.rejected) s.rejected.set(k, v);
    return s;
  });
}

/**
 * Sum the counters of one file's ranges, stage by stage, in range order, so that a file read in
 * several ranges (by one process or by several shards) reports what one read would.
 *
 * @example
 * combineStats([range0.stats, range1.stats]); // [read: seen = lines of both, ...]
 */
export function combineStats(parts: readonly (readonly StageStats[])[]): StageStats[] {
  const out: StageStats[] = [];
  for (const part of parts) {
    part.forEach((s, i) => {
      const o = (out[i] ??= new StageStats(s.name));
      o.seen += s.seen;
      o.emitted += s.emitted;
      for (const [k, v] of s.rejected) o.rejected.set(k, (o.rejected.get(k) ?? 0) + v);
    });
  }
  return out;
}

/** Between two ranges of a file's samples: the Arrow writer starts a new file here. */
export const RANGE_CUT: unique symbol = Symbol('range cut');

/**
 * The samples of a file read range by range: `open` reads one range (told how many lines came
 * before it); between ranges comes {@link RANGE_CUT}, where the Arrow writer starts a new file, as
 * a shard that owns the next range would. (A marker in the stream, not a callback: the stream may
 * be read ahead of its writer.) The counters are the ranges' combined.
 *
 * @example
 * const { samples, stats } = rangedSamples(ranges, (r, lines) => fileSamples(path, opts, { ...r, firstLine: lines }));
 * for await (const s of samples) if (s === RANGE_CUT) await w.cut(); else await w.write(s);
 */
export function rangedSamples(
  ranges: readonly Range[],
  open: (range: Range, linesBefore: number) => Promise<{ samples: AsyncIterable<Sample>; stats: () => StageStats[] }>,
): { samples: AsyncIterable<Sample | typeof RANGE_CUT>; stats: () => StageStats[] } {
  const parts: StageStats[][] = [];
  let current: (() => StageStats[]) | undefined;
  const samples = (async function* () {
    for (const [r, range] of ranges.entries()) {
      const linesBefore = combineStats(parts)[0]?.seen ?? 0;
      const opened = await open(range, linesBefore);
      current = opened.stats;
      yield* opened.samples;
      parts.push(opened.stats());
      current = undefined;
      if (r < ranges.length - 1) yield RANGE_CUT;
    }
  })();
  return { samples, stats: () => combineStats(current ? [...parts, current()] : parts) };
}
