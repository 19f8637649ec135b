import { describe, expect, it } from 'vitest';
import { collect, fromIterable, pipe } from '@weft/core';
import { shard } from './shard.ts';
import { python } from '../test/python.ts';

describe('shard', () => {
  it("gives rank r the records Python's xs[r::world] gives, and every record to exactly one rank", async () => {
    const xs = Array.from({ length: 23 }, (_, i) => i * 10);
    const worlds = [1, 2, 3, 8, 30];
    const all = JSON.parse(
      python(
        `import json,sys\nxs=${JSON.stringify(xs)}\nsys.stdout.write(json.dumps([[xs[r::w] for r in range(w)] for w in ${JSON.stringify(worlds)}]))`,
      ).toString(),
    ) as number[][][];
    for (const [w, world] of worlds.entries()) {
      const expected = all[w]!;
      for (let rank = 0; rank < world; rank++) {
        const s = shard<number>({ rank, worldSize: world });
        expect(await collect(pipe(fromIterable(xs), s))).toEqual(expected[rank]);
        const st = s.stats.toJSON();
        expect(st.seen).toBe(xs.length);
        expect(st.emitted + (st.rejected['other-rank'] ?? 0)).toBe(xs.length);
      }
    }
  });

  it('validates its options', () => {
    expect(() => shard({ rank: 2, worldSize: 2 })).toThrow(/rank must be an integer in \[0, 2\)/);
    expect(() => shard({ rank: 0, worldSize: 0 })).toThrow(/worldSize must be a positive integer/);
    expect(() => shard({ rank: -1, worldSize: 4 })).toThrow(RangeError);
    expect(() => shard({ rank: 0.5, worldSize: 4 })).toThrow(RangeError);
  });
});
