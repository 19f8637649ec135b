import { describe, expect, it } from 'vitest';
import { cursorAfter, internRepoOrder, rankSchedule } from '../src/schedule.ts';
import { runPython } from './helpers.ts';

// xtuner's InternRepoSampler, written out with numpy: RandomState(seed + epoch).shuffle(arange(n)),
// truncated to a multiple of the world size, rank r taking every world-th index.
const XTUNER = `
import numpy as np, json, sys
n, world, seed, epochs = map(int, sys.argv[1:])
out = {}
for r in range(world):
    seq = []
    for e in range(epochs):
        idx = np.arange(n); np.random.RandomState(seed + e).shuffle(idx)
        total = n // world * world
        seq += [[e, int(i)] for i in idx[:total][r:total:world]]
    out[r] = seq
print(json.dumps(out))
`;

describe('rank schedule', () => {
  it("each rank gets exactly xtuner's sampler order, across epochs", () => {
    const [n, world, seed] = [23, 3, 1024];
    const want = JSON.parse(
      runPython(['-c', XTUNER, String(n), String(world), String(seed), '2'], undefined, 'python3'),
    ) as Record<string, [number, number][]>;
    const order = internRepoOrder(n, world, seed);
    for (let r = 0; r < world; r++) {
      const got = [...rankSchedule(order, r, { epoch: 0, consumed: 0 }, 14)].map((a) => [a.epoch, a.index]);
      expect(got).toEqual(want[r]);
    }
  });

  it('a schedule resumed from cursorAfter(k) continues exactly', () => {
    const order = internRepoOrder(50, 4, 1024);
    for (const k of [0, 5, 12, 13, 20]) {
      const whole = [...rankSchedule(order, 2, { epoch: 0, consumed: 0 }, 30)];
      const resumed = [
        ...rankSchedule(order, 2, { epoch: 0, consumed: 0 }, k),
        ...rankSchedule(order, 2, cursorAfter(order, k), 30 - k),
      ];
      expect(resumed).toEqual(whole);
    }
  });
});
