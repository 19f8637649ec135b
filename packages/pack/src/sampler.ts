import { DEFAULT_SEED, shuffledArange } from '@weft/core';

/** Where a run stands in the sampler's sequence: the epoch and the global samples consumed in it. */
export interface SamplerCursor {
  epoch: number;
  /** Samples taken from this epoch's global sequence by all ranks together. */
  consumed: number;
}

/**
 * xtuner's `InternRepoSampler`: for epoch e, `RandomState(1024 + e).shuffle(arange(n))`,
 * truncated to a multiple of the world size, rank r taking every world-th index from r.
 * (xtuner forces the seed to 1024 for alignment; other seeds are allowed here but warned about there.)
 *
 * The resumable cursor counts GLOBAL samples: the epoch's sequence is the shuffled order, step s
 * hands `global[consumed + r]` to rank r and advances `consumed` by the world size. A run resumed
 * with a different world size W' continues from the same global position: rank r then takes
 * `global[consumed + r + k*W']`, and the epoch ends when fewer than W' samples remain (the
 * truncation is applied to what is left). With an unchanged world size this is exactly xtuner's order.
 *
 * @example
 * const s = new InternRepoSampler(numPacks, { worldSize: 8 });
 * s.rankIndices(0, 3);                        // epoch 0, rank 3's pack indices, as xtuner gives them
 * s.next({ epoch: 0, consumed: 16 }, 3);      // rank 3's next pack index after 2 steps
 */
export class InternRepoSampler {
  readonly worldSize: number;
  readonly seed: number;
  private cache: { epoch: number; order: Int32Array } | undefined;

  constructor(
    readonly length: number,
    options: { worldSize?: number; seed?: number } = {},
  ) {
    this.worldSize = options.worldSize ?? 1;
    this.seed = options.seed ?? DEFAULT_SEED;
    if (!Number.isInteger(this.worldSize) || this.worldSize < 1)
      throw new RangeError(`worldSize must be a positive integer, got ${this.worldSize}`);
    if (!Number.isInteger(length) || length < 0)
      throw new RangeError(`length must be a non-negative integer, got ${length}`);
  }

  /** The epoch's full shuffled order (before truncation), shared by all ranks. */
  globalOrder(epoch: number): Int32Array {
    if (this.cache?.epoch !== epoch) this.cache = { epoch, order: shuffledArange(this.length, this.seed + epoch) };
    return this.cache.order;
  }

  /** Samples each rank gets per epoch (`len // world`). */
  get samplesPerRank(): number {
    return Math.floor(this.length / this.worldSize);
  }

  /** Rank r's indices for a whole epoch, exactly xtuner's `__iter__`. */
  rankIndices(epoch: number, rank: number, worldSize = this.worldSize): Int32Array {
    const order = this.globalOrder(epoch);
    const per = Math.floor(this.length / worldSize);
    const out = new Int32Array(per);
    for (let k = 0; k < per; k++) out[k] = order[rank + k * worldSize]!;
    return out;
  }

  /**
   * Rank r's indices from a cursor to the end of that epoch, for world size `worldSize`
   * (which may differ from the run that produced the cursor).
   */
  remaining(cursor: SamplerCursor, rank: number, worldSize = this.worldSize): Int32Array {
    checkRank(rank, worldSize);
    const order = this.globalOrder(cursor.epoch);
    const steps = Math.max(0, Math.floor((this.length - cursor.consumed) / worldSize));
    const out = new Int32Array(steps);
    for (let k = 0; k < steps; k++) out[k] = order[cursor.consumed + rank + k * worldSize]!;
    return out;
  }

  /** Rank r's next index at `cursor`, or undefined when the epoch is exhausted for this world size. */
  next(cursor: SamplerCursor, rank: number, worldSize = this.worldSize): number | undefined {
    checkRank(rank, worldSize);
    if (cursor.consumed + worldSize > this.length) return undefined;
    return this.globalOrder(cursor.epoch)[cursor.consumed + rank];
  }

  /** The cursor after one step of all ranks (rolls into the next epoch when this one is exhausted). */
  advance(cursor: SamplerCursor, worldSize = this.worldSize): SamplerCursor {
    const consumed = cursor.consumed + worldSize;
    if (consumed + worldSize > this.length) return { epoch: cursor.epoch + 1, consumed: 0 };
    return { epoch: cursor.epoch, consumed };
  }
}

function checkRank(rank: number, worldSize: number): void {
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize)
    throw new RangeError(`rank ${rank} out of range for world size ${worldSize}`);
}
