import { defineStage, type CountedStage } from '@weft/core';

/** Options of {@link shard}. */
export interface ShardOptions {
  /** This worker's rank, 0 <= rank < worldSize. */
  rank: number;
  /** Number of workers sharing the stream. */
  worldSize: number;
}

/**
 * Keep this rank's share of a record stream: record i goes to rank `i % worldSize`, so the ranks
 * together see every record exactly once. Records of other ranks are counted as 'other-rank'.
 *
 * @example
 * const mine = pipe(readJsonl(files), shard({ rank: 1, worldSize: 4 })); // records 1, 5, 9, ...
 */
export function shard<T>(options: ShardOptions): CountedStage<T, T> {
  const { rank, worldSize } = options;
  if (!Number.isInteger(worldSize) || worldSize < 1)
    throw new RangeError(`worldSize must be a positive integer, got ${worldSize}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize)
    throw new RangeError(`rank must be an integer in [0, ${worldSize}), got ${rank}`);
  return defineStage<T, T>(`shard-${rank}-of-${worldSize}`, async function* (src, ctx) {
    let i = 0;
    for await (const x of src) {
      if (i++ % worldSize === rank) yield x;
      else ctx.drop('other-rank');
    }
  });
}
