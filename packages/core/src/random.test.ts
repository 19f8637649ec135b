import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { seededRandom } from './random.ts';

it('is mulberry32: the reference sequence for seed 1, in [0, 1), reproducible', () => {
  // Reference values of mulberry32(1), computed with the published C algorithm in Python below.
  const py = `
def mulberry32(a):
    while True:
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = a
        t = ((t ^ (t >> 15)) * (t | 1)) & 0xFFFFFFFF
        t ^= (t + (((t ^ (t >> 7)) * (t | 61)) & 0xFFFFFFFF)) & 0xFFFFFFFF
        yield ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296
g = mulberry32(1)
print([next(g) for _ in range(5)])`;
  const expected = JSON.parse(execFileSync('python3', ['-c', py]).toString()) as number[];
  const r = seededRandom(1);
  const got = Array.from({ length: 5 }, () => r());
  expect(got).toEqual(expected);
  const again = seededRandom(1);
  expect(again()).toBe(got[0]);
});
