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
  const mt = new Uint32Array(624);
  mt[0] = seed >>> 0;
  for (let i = 1; i < 624; i++) mt[i] = (Math.imul(1812433253, mt[i - 1]! ^ (mt[i - 1]! >>> 30)) + i) >>> 0;
  let pos = 624;
  const next = (): number => {
    if (pos === 624) {
      for (let i = 0; i < 624; i++) {
        const y = (mt[i]! & 0x80000000) | (mt[(i + 1) % 624]! & 0x7fffffff);
        mt[i] = mt[(i + 397) % 624]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      pos = 0;
    }
    let y = mt[pos++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  };
  const max = n - 1;
  if (max > 0xffffffff) throw new RangeError('split: more than 2**32 records');
  let mask = max;
  for (const s of [1, 2, 4, 8, 16]) mask |= mask >>> s;
  mask >>>= 0;
  for (let i = 0; i < k; i++) {
    if (max === 0) { out.add(0); continue; }
    let v: number;
    do v = (next() & mask) >>> 0;
    while (v > max);
    out.add(v);
  }
  return out;
}
