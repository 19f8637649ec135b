import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { RandomState, shuffledArange } from './mt19937.ts';

const golden = JSON.parse(readFileSync(new URL('../test/fixtures/shuffle.json', import.meta.url), 'utf8')) as {
  seed: number;
  n: number;
  order: number[];
}[];

/** Run a numpy snippet; it prints JSON. */
function numpy(code: string): unknown {
  return JSON.parse(
    execFileSync('python3', ['-c', `import json, numpy as np\n${code}`], { encoding: 'utf8', maxBuffer: 1 << 28 }),
  );
}

describe('numpy legacy MT19937', () => {
  it('matches every golden shuffle', () => {
    for (const g of golden) expect(Array.from(shuffledArange(g.n, g.seed)), `seed ${g.seed} n ${g.n}`).toEqual(g.order);
  });

  it('matches numpy for random seeds and sizes (shuffle, random_sample, randint)', () => {
    // Seeds drawn across the whole [0, 2**32) range, sizes around powers of two (the mask edges).
    const cases: [number, number][] = [];
    let x = 12345;
    for (let k = 0; k < 12; k++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const n = [0, 1, 2, 5, 31, 32, 33, 255, 256, 257, 4097, 70000][k]!;
      cases.push([x, n]);
    }
    const want = numpy(`
cases = ${JSON.stringify(cases)}
out = []
for seed, n in cases:
    a = np.arange(n); np.random.RandomState(seed).shuffle(a)
    rs = np.random.RandomState(seed)
    s = rs.random_sample(5).tolist()
    r = [int(rs.randint(3, 3 + m)) for m in (1, 2, 7, 1000, 2**31, 2**32)]
    out.append([a.tolist(), s, r])
print(json.dumps(out))`) as [number[], number[], number[]][];
    cases.forEach(([seed, n], k) => {
      expect(Array.from(shuffledArange(n, seed))).toEqual(want[k]![0]);
      const rs = new RandomState(seed);
      expect(Array.from({ length: 5 }, () => rs.randomSample())).toEqual(want[k]![1]);
      expect([1, 2, 7, 1000, 2 ** 31, 2 ** 32].map((m) => rs.randint(3, 3 + m))).toEqual(want[k]![2]);
    });
  });

  it('refuses seeds numpy refuses', () => {
    expect(() => new RandomState(-1)).toThrow(/seed/);
    expect(() => new RandomState(2 ** 32)).toThrow(/seed/);
    expect(() => new RandomState(1.5)).toThrow(/seed/);
  });
});
