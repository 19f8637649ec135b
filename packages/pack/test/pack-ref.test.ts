import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PackedDataset } from '../src/packed-dataset.ts';
import { writeBinFolderWithNumpy } from './write-bin.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const REF = new URL('../../../tools/reference/pack_ref.py', import.meta.url).pathname;

describe('length-seeded packing against the numpy reference (tools/reference/pack_ref.py)', () => {
  it('gives the same packs on random files, with long samples spanning packs and min_length', async () => {
    const files: number[][][] = [];
    let x = 99;
    const rnd = (n: number) => (x = (x * 1103515245 + 12345) % 2147483648) % n;
    for (let f = 0; f < 3; f++) {
      files.push(
        Array.from({ length: 30 + rnd(40) }, () =>
          Array.from({ length: rnd(5) === 0 ? 200 + rnd(300) : rnd(60) }, () => rnd(2001) - 1000),
        ),
      );
    }
    const dir = tempDir('weft-packref-');
    writeBinFolderWithNumpy(join(dir, 'in'), files);
    for (const [L, seed, minLength] of [
      [97, 3, 0],
      [64, 4294967295, 10],
    ] as const) {
      const dump = join(dir, `ref-${L}.json`);
      execFileSync('python3', [
        REF,
        join(dir, 'in'),
        '--packed-length',
        String(L),
        '--seed',
        String(seed),
        '--min-length',
        String(minLength),
        '--dump',
        dump,
      ]);
      const want = JSON.parse(readFileSync(dump, 'utf8')) as Record<string, number[]>[];
      const ds = await PackedDataset.fromBinFolder(join(dir, 'in'), { packedLength: L, seed, minLength });
      expect(ds.length).toBe(want.length);
      let i = 0;
      for await (const p of ds) {
        for (const k of ['input_ids', 'labels', 'cumulative_len', 'position_ids'] as const)
          expect(Array.from(p[k]), `pack ${i} ${k}`).toEqual(want[i]![k]);
        i++;
      }
    }
  });
});
