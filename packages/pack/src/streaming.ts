import type { Pack, Sample, Stage } from '@weft/core';

/** Options of {@link packStreaming}. */
export interface StreamingPackOptions {
  /** Tokens per pack (xtuner's `max_length` / `chunk_size`). */
  packedLength: number;
  /** Drop the last, short pack (true, as training wants fixed shapes) or emit it shorter (false). */
  dropLast?: boolean;
  /**
   * Write the boundary xtuner's Packer writes for an empty sample: a duplicate in `cumulative_len`
   * (`[0, 5, 5, 8]`). Default false: an empty sample leaves no boundary. Only the boundaries differ;
   * tokens and cut points are the same either way.
   */
  exactXtuner?: boolean;
}

/**
 * xtuner's `Packer` as a stage: concatenate samples in arrival order and cut every
 * `packedLength` tokens, carrying the remainder into the next pack. `cumulative_len` marks the
 * sample boundaries inside each pack; `position_ids` restart at 0 for every piece, also for the
 * tail of a sample cut by a pack boundary. Memory is one pack, whatever the stream length.
 * Empty samples contribute nothing and leave no boundary (`exactXtuner`: the duplicate xtuner's
 * Packer writes).
 *
 * @example
 * const packs = pipe(samples, packStreaming({ packedLength: 4096 }));
 */
export function packStreaming(options: StreamingPackOptions): Stage<Sample, Pack> {
  const L = options.packedLength;
  if (!Number.isInteger(L) || L < 1) throw new RangeError(`packedLength must be a positive integer, got ${L}`);
  const dropLast = options.dropLast ?? true;
  const exact = options.exactXtuner ?? false;
  return async function* (source) {
    let ids = new Int32Array(L),
      labels = new Int32Array(L),
      pos = new Int32Array(L);
    let bounds: number[] = [0];
    let at = 0;
    // xtuner's Packer: when a pack closes exactly at a sample's end, the next boundary equal to that
    // end (an empty sample's) becomes the next pack's leading 0; any further one is a duplicate 0.
    let absorb = false;
    const emit = (n: number): Pack => {
      const p: Pack = {
        input_ids: n === L ? ids : ids.slice(0, n),
        labels: n === L ? labels : labels.slice(0, n),
        position_ids: n === L ? pos : pos.slice(0, n),
        cumulative_len: Int32Array.from(bounds),
      };
      ids = new Int32Array(L);
      labels = new Int32Array(L);
      pos = new Int32Array(L);
      bounds = [0];
      at = 0;
      return p;
    };
    for await (const s of source) {
      const n = s.input_ids.length;
      if (n === 0) {
        if (exact && !absorb) bounds.push(at);
        absorb = false;
        continue;
      }
      absorb = false;
      let off = 0;
      while (off < n) {
        const take = Math.min(n - off, L - at);
        ids.set(s.input_ids.subarray(off, off + take), at);
        labels.set(s.labels.subarray(off, off + take), at);
        for (let i = 0; i < take; i++) pos[at + i] = i;
        at += take;
        off += take;
        bounds.push(at);
        if (at === L) {
          yield emit(L);
          absorb = off === n;
        }
      }
    }
    if (at > 0 && !dropLast) yield emit(at);
  };
}
