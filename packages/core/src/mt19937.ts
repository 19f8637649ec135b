/**
 * numpy's legacy Mersenne Twister (`numpy.random.RandomState`), bit-exact for integer seeds.
 *
 * Only what xtuner's packing and sampler need: seeding with `init_genrand`, 32-bit draws,
 * `random_sample` (53-bit doubles) and the bounded draw `random_interval` that `shuffle` uses.
 *
 * @example
 * const rs = new RandomState(1024);
 * rs.randomSample(); // same double as numpy.random.RandomState(1024).random_sample()
 */
export class RandomState {
  private readonly mt = new Uint32Array(624);
  private pos = 624;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`seed must be an integer in [0, 2**32 - 1] (as numpy requires), got ${seed}`);
    }
    // init_genrand, which numpy's legacy seeding uses for an integer seed.
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.pos = 624;
  }

  /** Regenerate the 624-word state block. */
  private twist(): void {
    const mt = this.mt;
    let i = 0;
    for (; i < 624 - 397; i++) {
      const y = (mt[i]! & 0x80000000) | (mt[i + 1]! & 0x7fffffff);
      mt[i] = mt[i + 397]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    for (; i < 623; i++) {
      const y = (mt[i]! & 0x80000000) | (mt[i + 1]! & 0x7fffffff);
      mt[i] = mt[i + 397 - 624]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    const y = (mt[623]! & 0x80000000) | (mt[0]! & 0x7fffffff);
    mt[623] = mt[396]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    this.pos = 0;
  }

  /** One 32-bit draw, as an unsigned number. */
  nextUint32(): number {
    if (this.pos === 624) this.twist();
    let y = this.mt[this.pos++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A double in [0, 1) with 53 random bits (`random_sample`). */
  randomSample(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /**
   * A uniform integer in [0, max] by masked rejection (numpy's `random_interval`).
   * Only the 32-bit branch exists here: `max` must be below 2**32.
   */
  interval(max: number): number {
    if (max === 0) return 0;
    if (max > 0xffffffff) throw new RangeError('interval: max above 2**32 - 1 is not supported');
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    let v: number;
    do v = (this.nextUint32() & mask) >>> 0;
    while (v > max);
    return v;
  }

  /**
   * `randint(low, high)` for a single int64 draw with `high - low - 1 < 2**32`
   * (numpy's bounded legacy path: masked rejection on 32-bit draws, like {@link interval}).
   */
  randint(low: number, high: number): number {
    if (!(high > low)) throw new RangeError(`randint: low >= high (${low} >= ${high})`);
    return low + this.interval(high - low - 1);
  }

  /**
   * Shuffle in place exactly as `RandomState.shuffle` does a 1-d array (Fisher–Yates from the end,
   * `j = random_interval(i)`). Typed arrays keep n in the hundreds of millions unboxed.
   */
  shuffle(
    a:
      | Int32Array
      | Uint32Array
      | Float64Array
      | Int8Array
      | Int16Array
      | Uint8Array
      | Uint16Array
      | Float32Array
      | BigInt64Array
      | number[],
  ): void {
    const n = a.length;
    if (n > 0x100000000) throw new RangeError('shuffle: arrays longer than 2**32 are not supported');
    for (let i = n - 1; i >= 1; i--) {
      const j = this.interval(i);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
  }
}

/**
 * `numpy.random.RandomState(seed).shuffle(numpy.arange(n))` as an Int32Array (n < 2**31).
 *
 * @example
 * shuffledArange(10, 1024); // Int32Array [2, 3, 7, 0, 6, 8, 5, 4, 9, 1]
 */
export function shuffledArange(n: number, seed: number): Int32Array {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff)
    throw new RangeError(`n must be an integer in [0, 2**31), got ${n}`);
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  new RandomState(seed).shuffle(a);
  return a;
}
