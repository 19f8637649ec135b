import { describe, expect, it } from 'vitest';
import { parallelMap } from './parallel.ts';
import { batch, collect, fromIterable, pipe } from './stage.ts';

const module = new URL('../test/fixtures/work.ts', import.meta.url);

describe('parallelMap', () => {
  const input = Array.from({ length: 500 }, (_, i) => (i * 7919) % 1000);
  const run = async (workers: number) =>
    (await collect(pipe(fromIterable(input), batch<number>(3), parallelMap<number[], Int32Array, { mul: number }>({ module, name: 'create', init: { mul: 3 }, workers }))))
      .flatMap((a) => Array.from(a));

  it('keeps input order and gives the same output for 0, 1 and 2 workers', async () => {
    const expected = input.map((x) => x * 3);
    expect(await run(0)).toEqual(expected);
    expect(await run(1)).toEqual(expected);
    expect(await run(2)).toEqual(expected);
  });

  it('rethrows a worker error with its provenance', async () => {
    const st = parallelMap<number[], Int32Array, { mul: number }>({ module, name: 'create', init: { mul: 1 }, workers: 2 });
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
