import { describe, expect, it } from 'vitest';
import { batch, collect, defineStage, filter, fromIterable, map, pipe, unbatch } from './stage.ts';
import { DataError } from './errors.ts';

describe('pipe and basic stages', () => {
  it('composes left to right', async () => {
    const out = await collect(
      pipe(
        fromIterable([1, 2, 3, 4, 5]),
        map((x: number) => x * 10),
        filter((x: number) => x !== 30),
        batch(2),
      ),
    );
    expect(out).toEqual([
      [10, 20],
      [40, 50],
    ]);
  });
  it('batch keeps the short tail and unbatch restores', async () => {
    const out = await collect(pipe(fromIterable([1, 2, 3]), batch<number>(2), unbatch<number>()));
    expect(out).toEqual([1, 2, 3]);
  });
  it('batch validates its size when built', () => {
    expect(() => batch(0)).toThrow(RangeError);
  });
});

describe('defineStage counters and error policy', () => {
  const parse = (onError: 'fail' | 'skip') =>
    defineStage<string, number>(
      'parse',
      async function* (src, ctx) {
        let line = 0;
        for await (const s of src) {
          line++;
          if (s === '') {
            ctx.drop('empty');
            continue;
          }
          const n = Number(s);
          if (Number.isNaN(n)) {
            ctx.fail(new DataError(`not a number: ${s}`, { file: 'f.txt', line }, { reason: 'nan' }));
            continue;
          }
          yield n;
        }
      },
      { onError },
    );

  it('counts seen, emitted and rejected by reason when skipping', async () => {
    const st = parse('skip');
    const out = await collect(st(fromIterable(['1', 'x', '', '3', 'y'])));
    expect(out).toEqual([1, 3]);
    expect(st.stats.toJSON()).toEqual({ name: 'parse', seen: 5, emitted: 2, rejected: { empty: 1, nan: 2 } });
    expect(st.stats.seen).toBe(st.stats.emitted + st.stats.rejectedTotal);
    expect(st.stats.examples[0]).toBe('f.txt: line 2: not a number: x');
  });
  it('throws the DataError with provenance when failing', async () => {
    await expect(collect(parse('fail')(fromIterable(['1', 'x'])))).rejects.toThrow('f.txt: line 2: not a number: x');
  });
});
