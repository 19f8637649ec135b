import { describe, expect, it } from 'vitest';
import { parallelMap, WorkerPool } from './parallel.ts';
import { batch, collect, fromIterable, pipe } from './stage.ts';

const module = new URL('../test/fixtures/work.ts', import.meta.url);

describe('parallelMap', () => {
  const input = Array.from({ length: 500 }, (_, i) => (i * 7919) % 1000);
  const run = async (workers: number) =>
    (
      await collect(
        pipe(
          fromIterable(input),
          batch<number>(3),
          parallelMap<number[], Int32Array, { mul: number }>({ module, name: 'create', init: { mul: 3 }, workers }),
        ),
      )
    ).flatMap((a) => Array.from(a));

  it('keeps input order and gives the same output for 0, 1 and 2 workers', async () => {
    const expected = input.map((x) => x * 3);
    expect(await run(0)).toEqual(expected);
    expect(await run(1)).toEqual(expected);
    expect(await run(2)).toEqual(expected);
  });

  it('rethrows a worker error with its provenance', async () => {
    const st = parallelMap<number[], Int32Array, { mul: number }>({
      module,
      name: 'create',
      init: { mul: 1 },
      workers: 2,
    });
    const err = await collect(st(fromIterable([[1], [2], [-1], [4]]))).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('x.jsonl: line 7: negative one');
    expect(err.name).toBe('DataError');
    expect(err.source).toEqual({ file: 'x.jsonl', line: 7 });
  });
});

describe('parallelMap keeps the process alive while it works', () => {
  it('a script that only waits on the workers runs to the end', async () => {
    const { execFileSync } = await import('node:child_process');
    const script = new URL('../test/fixtures/drain.ts', import.meta.url).pathname;
    const out = execFileSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8' });
    expect(out).toBe(`sum=${2 * ((299 * 300) / 2)}\n`);
  });
});

describe('WorkerPool', () => {
  const input = Array.from({ length: 300 }, (_, i) => (i * 7919) % 1000);
  const expected = input.map((x) => x * 5);

  it('serves several runs with the same workers, in order, with one or two items at a time per worker', async () => {
    for (const concurrencyPerWorker of [1, 2]) {
      const pool = new WorkerPool<number[], Int32Array, { mul: number }>({
        module,
        name: 'create',
        init: { mul: 5 },
        workers: 3,
        concurrencyPerWorker,
      });
      try {
        for (let run = 0; run < 3; run++) {
          const got = (await collect(pool.map(batch<number>(4)(fromIterable(input))))).flatMap((a) => Array.from(a));
          expect(got).toEqual(expected);
        }
      } finally {
        await pool.close();
      }
      await expect(collect(pool.map(fromIterable([[1]])))).rejects.toThrow(/closed/);
    }
  });

  it('a failed item fails its run, and the pool still serves the next run', async () => {
    const pool = new WorkerPool<number[], Int32Array, { mul: number }>({
      module,
      name: 'create',
      init: { mul: 1 },
      workers: 2,
    });
    try {
      await expect(collect(pool.map(fromIterable([[1], [-1], [3]])))).rejects.toThrow('negative one');
      expect((await collect(pool.map(fromIterable([[1], [2]])))).map((a) => Array.from(a))).toEqual([[1], [2]]);
    } finally {
      await pool.close();
    }
  });

  it('refuses zero workers', () => {
    expect(() => new WorkerPool({ module, name: 'create', init: { mul: 1 }, workers: 0 })).toThrow(
      /at least one worker/,
    );
  });
});
