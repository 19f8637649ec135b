import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { packJobMarker, packUnits, runPack, runPackShard, type PackJobOptions } from '../src/pack-shard.ts';
import { mergeShards } from '../src/merge.ts';
import { PackedDataset } from '@weft/pack';
import { writePackedDataset } from '@weft/pack';
import { checkedBinFolder } from '@weft/pack';
import { sameTree, tree } from './shard-helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const TOKENIZED = new URL('../../../data/sample/tokenized/', import.meta.url).pathname;
const base = tempDir('weft-pack-shard-');

const job = (out: string, splitBytes: number): PackJobOptions => ({
  folder: TOKENIZED,
  packedLength: 256,
  seed: 3,
  minLength: 2,
  maxShardBytes: 60_000,
  splitBytes,
  out,
  progress: false,
});

describe('weft pack --shard + weft merge', () => {
  it('groups files into units', () => {
    expect(packUnits([5, 5, 20, 1], 10)).toEqual([0, 2, 3]);
    expect(packUnits([5, 5, 20, 1], 1000)).toEqual([0]);
  });

  it('under the unit bound a single run writes what it always wrote', async () => {
    const a = join(base, 'plain'),
      b = join(base, 'old');
    await runPack(job(a, 256 << 20));
    const ds = await PackedDataset.fromBinFolder(TOKENIZED, { packedLength: 256, seed: 3, minLength: 2 });
    // The old path with what weft pack records now: its settings in the marker; on_error and the line counts in weft_stats.json.
    const { lines, kept, skipped } = await checkedBinFolder(TOKENIZED, { minLength: 2 });
    await writePackedDataset(ds, b, {
      maxShardBytes: 60_000,
      config: { packed_length: 256, seed: 3, min_length: 2, on_error: 'fail' },
      extraStats: { lines, kept, skipped },
      output: packJobMarker(job(a, 256 << 20)),
    });
    expect(sameTree(tree(a), tree(b))).toEqual([]);
  });

  it('1, 2, 3 and 7 shards merge into the bytes of one run (packs in file order, units cut into Arrow files)', async () => {
    const single = join(base, 'single');
    const stats = await runPack(job(single, 40_000));
    expect(stats.packs).toBeGreaterThan(50);
    const one = tree(single);
    for (const n of [1, 2, 3, 7]) {
      const out = join(base, `n${n}`);
      for (let i = 0; i < n; i++) await runPackShard(job(out, 40_000), { index: i, count: n, source: 'cli' });
      const r = await mergeShards(out, { progress: false });
      expect(r.summary).toEqual({ out, ...stats });
      expect(sameTree(tree(out, ['shards']), one)).toEqual([]);
    }
  }, 120_000);
});
