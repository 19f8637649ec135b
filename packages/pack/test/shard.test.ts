import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProcess, type ProcessOptions } from '../src/process.ts';
import { runProcessShard, shardDirName } from '../src/shard-run.ts';
import { mergeShards } from '../src/merge.ts';
import { planUnits, assignUnits } from '../src/shard-plan.ts';
import { makeShardInput, sameTree, tree } from './shard-helpers.ts';

const base = mkdtempSync(join(tmpdir(), 'weft-shard-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const input = makeShardInput(join(base, 'in'));
const job = (out: string): ProcessOptions => ({
  input, format: 'ftdp', tokenizer: 'default', template: 'internlm2_chat', maxLength: 384,
  pack: true, packedLength: 512, seed: 7, splitBytes: 16_000, maxShardBytes: 40_000, out, progress: false,
});

async function sharded(out: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await runProcessShard(job(out), { index: i, count: n, source: 'cli' });
  await mergeShards(out, { progress: false });
}

describe('sharded weft process + weft merge', () => {
  let single: Map<string, Buffer>;
  beforeAll(async () => {
    await runProcess(job(join(base, 'single')));
    single = tree(join(base, 'single'));
  });

  it('a single run cuts the large files into byte ranges, one Arrow file (at least) per range', () => {
    const state = (k: number) => JSON.parse(single.get(`samples/${k}/state.json`)!.toString()) as { _data_files: unknown[] };
    // chat_cn.json and chat_en.json are ~47 KB: 3 ranges each at a 16 000-byte bound.
    expect(state(0)._data_files.length).toBeGreaterThanOrEqual(3);
    expect(state(1)._data_files.length).toBeGreaterThanOrEqual(3);
    expect(single.has('packed/state.json')).toBe(true);
  });

  for (const n of [1, 2, 3, 7]) {
    it(`${n} shard(s) merge into the same bytes as one process (samples and packed)`, async () => {
      const out = join(base, `n${n}`);
      await sharded(out, n);
      expect(sameTree(tree(out, ['shards']), single)).toEqual([]);
      // No copies: every Arrow file of the merged splits is a hard link to a shard's file.
      const st = statSync(join(out, 'samples', '0', 'data-00000-of-00003.arrow'));
      expect(st.nlink).toBe(2);
    }, 120_000);
  }

  it('7 shards split a large file between tasks, and the plan does not depend on the task count', () => {
    const marker = (i: number) => JSON.parse(readFileSync(join(base, 'n7', 'shards', shardDirName(i, 7), 'weft_shard.json'), 'utf8')) as { units: { file: number; range: number }[]; config: { files: string[] } };
    const long = marker(0).config.files.indexOf('z_long.json');
    const owners = new Map<string, number>();
    for (let i = 0; i < 7; i++) for (const u of marker(i).units) owners.set(`${u.file}.${u.range}`, i);
    expect(new Set([owners.get('0.0'), owners.get('0.1'), owners.get('0.2')]).size).toBeGreaterThan(1);
    // z_long.json's middle line is longer than two bounds: its middle range is empty and writes no file.
    const mid = marker(owners.get(`${long}.1`)!).units.find((u) => u.file === long && u.range === 1) as unknown as { bytes: { start: number; end: number }; arrow: unknown[] };
    expect(mid.bytes.end - mid.bytes.start).toBe(0);
    expect(mid.arrow).toEqual([]);
    const units = planUnits([{ size: 30, splittable: true }, { size: 5, splittable: false }, { size: 25, splittable: true }], 10);
    expect(units.map((u) => `${u.file}.${u.range}`)).toEqual(['0.0', '0.1', '0.2', '1.0', '2.0', '2.1', '2.2']);
    const a = assignUnits(units, 3);
    expect(a).toEqual([...a].sort()); // contiguous in data order
    expect(new Set(a).size).toBe(3);
  });
});
