import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { InternRepoSampler, type SamplerCursor } from './sampler.ts';

describe('InternRepoSampler', () => {
  it("equals xtuner's order computed with numpy", () => {
    const want = JSON.parse(
      execFileSync(
        'python3',
        [
          '-c',
          `
import json, numpy as np
out = {}
for n, w in [(103, 4), (7, 3), (50, 1)]:
    for e in (0, 3):
        idx = np.arange(n); np.random.RandomState(1024 + e).shuffle(idx)
        tot = (n // w) * w
        out[f"{n},{w},{e}"] = [idx[r:tot:w].tolist() for r in range(w)]
print(json.dumps(out))`,
        ],
        { encoding: 'utf8' },
      ),
    ) as Record<string, number[][]>;
    for (const [key, ranks] of Object.entries(want)) {
      const [n, w, e] = key.split(',').map(Number) as [number, number, number];
      const s = new InternRepoSampler(n, { worldSize: w });
      ranks.forEach((r, rank) => expect(Array.from(s.rankIndices(e, rank)), key).toEqual(r));
    }
  });

  it('a cursor resumed with the same world size continues exactly', () => {
    const s = new InternRepoSampler(103, { worldSize: 4 });
    let c: SamplerCursor = { epoch: 2, consumed: 0 };
    const seen: number[][] = [[], [], [], []];
    for (let step = 0; step < 10; step++) {
      for (let r = 0; r < 4; r++) seen[r]!.push(s.next(c, r)!);
      c = s.advance(c);
    }
    // "Restart": a fresh sampler from the saved cursor gives the rest of xtuner's sequence.
    const t = new InternRepoSampler(103, { worldSize: 4 });
    for (let r = 0; r < 4; r++) {
      expect([...seen[r]!, ...t.remaining(c, r)]).toEqual(Array.from(s.rankIndices(2, r)));
    }
  });

  it('a cursor resumed with another world size continues the global sequence', () => {
    const s = new InternRepoSampler(103, { worldSize: 4 });
    let c: SamplerCursor = { epoch: 0, consumed: 0 };
    const taken: number[] = [];
    for (let step = 0; step < 5; step++) {
      for (let r = 0; r < 4; r++) taken.push(s.next(c, r)!);
      c = s.advance(c);
    }
    expect(c.consumed).toBe(20);
    // Continue on 3 ranks: step by step, the union of ranks is the next slice of the global order.
    let d = c;
    while (d.epoch === 0) {
      for (let r = 0; r < 3; r++) taken.push(s.next(d, r, 3)!);
      d = s.advance(d, 3);
    }
    const global = Array.from(s.globalOrder(0));
    expect(taken).toEqual(global.slice(0, 20 + Math.floor(83 / 3) * 3));
    expect(d).toEqual({ epoch: 1, consumed: 0 });
    expect(Array.from(s.remaining(c, 1, 3))).toEqual(global.slice(21, 20 + 81).filter((_, k) => k % 3 === 0));
  });
});
