import { describe, expect, it } from 'vitest';
import { openedInTurn, prefetch } from './prefetch.ts';

/** A source of 0..n-1 that records how far it was read and whether it was ended. */
function counted(n: number, failAt = -1): { src: AsyncIterable<number>; pulled: () => number; ended: () => boolean } {
  let pulled = 0;
  let ended = false;
  const src = (async function* () {
    try {
      for (let i = 0; i < n; i++) {
        await new Promise((r) => setImmediate(r));
        if (i === failAt) throw new Error(`item ${i} is bad`);
        pulled++;
        yield i;
      }
    } finally {
      ended = true;
    }
  })();
  return { src, pulled: () => pulled, ended: () => ended };
}

const ticks = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe('prefetch', () => {
  it('reads ahead before it is iterated, up to its limit, and gives every item in order', async () => {
    const c = counted(100);
    const p = prefetch(c.src, { limit: 5 });
    await ticks(50);
    expect(c.pulled()).toBe(5); // back-pressure: no further than the limit
    const got: number[] = [];
    for await (const x of p) got.push(x);
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('weighs items: one heavier than the limit still passes', async () => {
    const c = counted(10);
    const p = prefetch(c.src, { limit: 4, weigh: (x) => (x === 0 ? 100 : 1) });
    await ticks(30);
    expect(c.pulled()).toBe(1);
    const got: number[] = [];
    for await (const x of p) got.push(x);
    expect(got).toHaveLength(10);
  });

  it('an error comes out after the items before it', async () => {
    const c = counted(10, 3);
    const p = prefetch(c.src, { limit: 100 });
    const got: number[] = [];
    await expect(
      (async () => {
        for await (const x of p) got.push(x);
      })(),
    ).rejects.toThrow('item 3 is bad');
    expect(got).toEqual([0, 1, 2]);
  });

  it('cancel stops reading and ends the source', async () => {
    const c = counted(1000);
    const p = prefetch(c.src, { limit: 10 });
    await ticks(30);
    p.cancel();
    await ticks(30);
    expect(c.ended()).toBe(true);
    expect(c.pulled()).toBeLessThanOrEqual(11);
  });
});

describe('openedInTurn', () => {
  it('opens the next item when the current one is handed out, and drops it on an early exit', async () => {
    const opened: number[] = [];
    const dropped: number[] = [];
    const seen: number[] = [];
    const open = async (k: number): Promise<number> => {
      opened.push(k);
      return k;
    };
    try {
      for await (const k of openedInTurn(5, open, (k) => dropped.push(k))) {
        seen.push(k);
        expect(opened).toEqual(Array.from({ length: Math.min(k + 2, 5) }, (_, i) => i)); // k+1 already opened
        if (k === 2) throw new Error('stop');
      }
    } catch (e) {
      expect((e as Error).message).toBe('stop');
    }
    expect(seen).toEqual([0, 1, 2]);
    expect(dropped).toEqual([3]);
  });

  it('a consumer that stops reading a prefetched stream early cancels it', async () => {
    const c = counted(1000);
    const p = prefetch(c.src, { limit: 10 });
    for await (const x of p) if (x === 3) break;
    await ticks(40);
    expect(c.ended()).toBe(true);
  });
});
