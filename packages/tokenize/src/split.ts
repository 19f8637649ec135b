import { RandomState } from '@weft/core';

/**
 * The validation split of InternLM's `alpaca_tokenizer.py`: `np.random.seed(0)` then
 * `np.random.choice(range(n), int(n * ratio))` — drawn WITH replacement, so duplicates make the
 * validation set smaller than `int(n * ratio)`. Reproduced bit-exactly: numpy's legacy MT19937
 * seeded by init_genrand and its masked-rejection `randint`.
 *
 * @example
 * validIndices(10, 0.1, 0); // Set { 5 } — the same index numpy picks
 */
export function validIndices(n: number, ratio: number, seed = 0): Set<number> {
  const k = Math.trunc(n * ratio);
  const out = new Set<number>();
  if (k <= 0 || n <= 0) return out;
  if (n - 1 > 0xffffffff) throw new RangeError('split: more than 2**32 records');
  // choice(range(n), k) with replacement = k bounded draws randint(0, n): masked rejection on
  // 32-bit draws of the legacy generator.
  const rs = new RandomState(seed);
  for (let i = 0; i < k; i++) out.add(rs.interval(n - 1));
  return out;
}
