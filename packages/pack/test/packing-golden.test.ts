import { describe, expect, it } from 'vitest';
import { PackedDataset } from '../src/packed-dataset.ts';
import { InternRepoSampler } from '../src/sampler.ts';
import { packingCases } from './golden.ts';
import { writeBinFolderWithNumpy } from './write-bin.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

describe('golden/packing.json through real .bin/.meta files', () => {
  packingCases.forEach((c, ci) => {
    it(`case ${ci}: ${c.files.length} file(s), packed_length ${c.packed_length}, seed ${c.seed}, min_length ${c.min_length}`, async () => {
      const dir = tempDir(`weft-golden-${ci}-`);
      writeBinFolderWithNumpy(dir, c.files);
      const ds = await PackedDataset.fromBinFolder(dir, {
        packedLength: c.packed_length,
        seed: c.seed,
        minLength: c.min_length,
      });
      expect(ds.length).toBe(c.packs.length);
      let i = 0;
      for await (const p of ds) {
        const g = c.packs[i]!;
        expect(Array.from(p.input_ids), `pack ${i} input_ids`).toEqual(g.input_ids);
        expect(Array.from(p.labels), `pack ${i} labels`).toEqual(g.labels);
        expect(Array.from(p.cumulative_len), `pack ${i} cumulative_len`).toEqual(g.cumulative_len);
        expect(Array.from(p.position_ids), `pack ${i} position_ids`).toEqual(g.position_ids);
        i++;
      }
      expect(i).toBe(c.packs.length);
      if (ci === 1) {
        // Built on 2 worker threads: same packs, same order.
        let j = 0;
        for await (const p of ds.packs(0, 2, 2))
          expect(Array.from(p.input_ids), `worker pack ${j}`).toEqual(c.packs[j++]!.input_ids);
        expect(j).toBe(c.packs.length);
      }
      const s = new InternRepoSampler(ds.length, { worldSize: c.sampler.world_size, seed: c.sampler.seed });
      for (const [epoch, ranks] of Object.entries(c.sampler.epochs)) {
        ranks.forEach((want, r) =>
          expect(Array.from(s.rankIndices(Number(epoch), r)), `epoch ${epoch} rank ${r}`).toEqual(want),
        );
      }
    });
  });
});
