import { afterEach, describe, expect, it, vi } from 'vitest';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runProcess, type ProcessOptions } from '../src/process.ts';
import { runProcessShard } from '../src/shard-run.ts';
import { mergeShards } from '../src/merge.ts';
import { UnitPool, unitsKeepWorkersBusy } from '../src/unit-pool.ts';
import { makeShardInput, sameTree, SHARD_JOB, tree } from './shard-helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

// Whole units on worker threads (each reads, tokenizes and writes its own Arrow files; the main
// thread links them into the splits): the in-thread run (0 workers) is the reference for bytes,
// counts and errors, and the records path (line workers) must agree too.
describe('weft process: whole units on worker threads', () => {
  const base = tempDir('weft-unit-workers-');
  const input = makeShardInput(join(base, 'in'));
  const job = (out: string, more: Partial<ProcessOptions> = {}): ProcessOptions => ({
    input,
    ...SHARD_JOB,
    onError: 'skip',
    out,
    ...more,
  });
  // A bad line in a ranged file, so the skip counts of a range add up in the split's stats.
  writeFileSync(join(input, 'chat_en.json'), `{"not": "an array"}\n`, { flag: 'a' });
  afterEach(() => vi.restoreAllMocks());

  it('spreads units as evenly as handing them out in order allows', () => {
    expect(unitsKeepWorkersBusy([6, 6, 6, 6], 4)).toBe(true);
    expect(unitsKeepWorkersBusy([6, 6, 6, 6, 6, 6, 6, 6], 4)).toBe(true);
    expect(unitsKeepWorkersBusy([5, 6, 7, 6, 5], 4)).toBe(false); // one worker gets two: 11 > 1.25 × 29/4
    expect(unitsKeepWorkersBusy([200, 1, 1], 3)).toBe(false);
    expect(unitsKeepWorkersBusy([3, 3], 4)).toBe(false); // fewer units than workers
    expect(unitsKeepWorkersBusy([9, 1, 1, 1, 1, 1, 1, 1, 1, 1], 1)).toBe(true);
    expect(unitsKeepWorkersBusy([], 2)).toBe(false);
  });

  it('writes the bytes of one thread with 1, 2 and 3 unit workers and with record workers (packed, ranged files)', async () => {
    const create = vi.spyOn(UnitPool, 'create');
    await runProcess(job(join(base, 'ref'), { workers: 0 }));
    expect(create).not.toHaveBeenCalled();
    const ref = tree(join(base, 'ref'));
    expect([...ref.keys()].filter((k) => k.startsWith(join('samples', '0'))).length).toBeGreaterThan(4); // 3 ranges, cut
    for (const [workers, parallelism] of [
      [1, 'units'],
      [2, 'units'],
      [3, 'units'],
      [3, 'records'],
    ] as const) {
      create.mockClear();
      const out = join(base, `${parallelism}-${workers}`);
      const summary = await runProcess(job(out, { workers, parallelism }));
      expect(create).toHaveBeenCalledTimes(parallelism === 'units' ? 1 : 0);
      expect(summary.skipped['bad-record'], `${parallelism} ${workers}`).toBe(1);
      expect(sameTree(tree(out), ref), `${parallelism} ${workers}`).toEqual([]);
      expect(readdirSync(join(out, 'samples')).filter((e) => e.startsWith('.'))).toEqual([]); // no unit folder left
    }
  });

  it('a shard task runs its units on worker threads and merges into the same bytes', async () => {
    const out = join(base, 'sharded');
    for (const index of [0, 1])
      await runProcessShard(job(out, { workers: 2, parallelism: 'units' }), { index, count: 2, source: 'test' });
    await mergeShards(out, { progress: false });
    expect(
      sameTree(tree(out, ['shards', '.weft-output.json']), tree(join(base, 'ref'), ['.weft-output.json'])),
    ).toEqual([]);
  });

  it('fail: the first error in data order, whichever unit meets its error first', async () => {
    const bad = join(base, 'bad');
    mkdirSync(bad);
    const turn = (k: number) =>
      JSON.stringify([
        { role: 'user', content: `question ${k}` },
        { role: 'assistant', content: `answer ${k} `.repeat(40) },
      ]);
    const lines = (n: number) => Array.from({ length: n }, (_, k) => turn(k));
    // File a: its bad line at the end; file c: at the start, met long before a's by another worker.
    writeFileSync(join(bad, 'a.json'), [...lines(300), '[{"role": "user", "content": "cut'].join('\n') + '\n');
    writeFileSync(join(bad, 'b.json'), lines(300).join('\n') + '\n');
    writeFileSync(join(bad, 'c.json'), ['{"not": "an array"}', ...lines(300)].join('\n') + '\n');
    const errors: string[] = [];
    for (const [workers, parallelism] of [
      [0, undefined],
      [3, 'units'],
    ] as const) {
      const out = join(base, `bad-${workers}`);
      const e = await runProcess({
        input: bad,
        format: 'ftdp',
        workers,
        ...(parallelism ? { parallelism } : {}),
        out,
        progress: false,
      }).then(
        () => 'no error',
        (x: Error) => x.message,
      );
      errors.push(e);
      // Splits before the failing one may be committed; none after it, and no unit folder is left.
      expect(existsSync(join(out, 'samples', '2'))).toBe(false);
      expect(readdirSync(join(out, 'samples')).filter((n) => n.startsWith('.'))).toEqual([]);
    }
    expect(errors[0]).toMatch(/a\.json: line 301 \(byte \d+\): malformed JSON/);
    expect(errors[1]).toBe(errors[0]);
  });
});
