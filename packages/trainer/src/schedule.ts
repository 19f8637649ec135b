import { InternRepoSampler, type SamplerCursor } from '@weft/pack';

/** The sampler as the feed uses it: kept behind this small interface so the order can change alone. */
export interface PackOrder {
  readonly length: number;
  readonly worldSize: number;
  next(cursor: SamplerCursor, rank: number): number | undefined;
  advance(cursor: SamplerCursor): SamplerCursor;
}

/** xtuner's InternRepoSampler (epoch shuffle with numpy's MT19937, rank striding). */
export function internRepoOrder(length: number, worldSize: number, seed: number): PackOrder {
  if (length < worldSize)
    throw new Error(`dataset has ${length} packs, fewer than the ${worldSize} ranks: every rank needs at least one`);
  const s = new InternRepoSampler(length, { worldSize, seed });
  return { length, worldSize, next: (c, r) => s.next(c, r), advance: (c) => s.advance(c) };
}

/** Optimizer steps that `epochs` passes give: each step takes `perStep` packs from every rank. */
export function stepsForEpochs(order: PackOrder, epochs: number, perStep: number): number {
  return Math.floor((epochs * Math.floor(order.length / order.worldSize)) / perStep);
}

/** The cursor after `samples` sampler positions (each position = one pack for every rank). */
export function cursorAfter(order: PackOrder, samples: number): SamplerCursor {
  const perEpoch = Math.floor(order.length / order.worldSize);
  return { epoch: Math.floor(samples / perEpoch), consumed: (samples % perEpoch) * order.worldSize };
}

/**
 * Rank r's packs for `count` sampler positions from `from`: {epoch, index} in the order it trains.
 *
 * @example
 * for (const { epoch, index } of rankSchedule(order, 1, { epoch: 0, consumed: 0 }, 8)) feed(index);
 */
export function* rankSchedule(
  order: PackOrder,
  rank: number,
  from: SamplerCursor,
  count: number,
): Generator<{ epoch: number; index: number }> {
  let c = from;
  for (let k = 0; k < count; k++) {
    const index = order.next(c, rank);
    if (index === undefined) throw new Error(`internal: sampler exhausted at epoch ${c.epoch}, consumed ${c.consumed}`);
    yield { epoch: c.epoch, index };
    c = order.advance(c);
  }
}
