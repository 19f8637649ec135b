import { defineStage, IGNORE_INDEX, type CountedStage, type Sample } from '@weft/core';

/**
 * Drop samples with no trainable token, as xtuner's offline job does: `process` in
 * xtuner/dataset/huggingface.py filters `any(label >= 0 for label in example['labels'])` after
 * encode_fn has truncated to max_length and before packing. Such a sample (every reply
 * `loss: false`, or every reply cut off by max_length) would only add context tokens to a pack.
 * Dropped samples are counted under `no-trainable-token`, so records in = kept + skipped holds.
 *
 * @example
 * const keep = trainableOnly();
 * for await (const s of keep(samples)) write(s);
 * keep.stats.rejected.get('no-trainable-token'); // how many were dropped
 */
export function trainableOnly(): CountedStage<Sample, Sample> {
  return defineStage<Sample, Sample>('trainable-only', async function* (src, ctx) {
    for await (const s of src) {
      if (s.labels.some((l) => l >= 0)) yield s;
      else ctx.drop('no-trainable-token');
    }
  });
}

/** How many tokens of a sample carry a loss (labels other than the ignore index, -100). */
export function lossTokens(labels: Int32Array): number {
  let n = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] !== IGNORE_INDEX) n++;
  return n;
}
