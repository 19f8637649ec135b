import { describe, expect, it } from 'vitest';
import { PackedDataset } from '../src/packed-dataset.ts';
import { InternRepoSampler } from '../src/sampler.ts';
import type { LengthSource } from '../src/length-seeded.ts';
import { packingCases } from './golden.ts';

/** In-memory sources with xtuner's min_length filter, to test the packer apart from the readers. */
function memorySources(files: number[][][], minLength: number): LengthSource[] {
  return files.map((lines, f) => {
    const kept = lines.filter((l) => !(minLength > 0 && l.length < minLength));
    return {
      name: `file${f}`,
      lengths: Int32Array.from(kept, (l) => l.length),
      read: (i: number) => Int32Array.from(kept[i]!),
    };
  });
}

describe('length-seeded packing (in memory) against golden/packing.json', () => {
  packingCases.forEach((c, ci) => {
    it(`case ${ci}: packs and sampler order`, async () => {
      const ds = PackedDataset.fromSources(memorySources(c.files, c.min_length), {
        packedLength: c.packed_length,
        seed: c.seed,
      });
      expect(ds.length).toBe(c.packs.length);
      for (let i = 0; i < ds.length; i++) {
        const p = await ds.get(i);
        const g = c.packs[i]!;
        expect(Array.from(p.input_ids), `pack ${i} input_ids`).toEqual(g.input_ids);
        expect(Array.from(p.labels), `pack ${i} labels`).toEqual(g.labels);
        expect(Array.from(p.cumulative_len), `pack ${i} cumulative_len`).toEqual(g.cumulative_len);
        expect(Array.from(p.position_ids), `pack ${i} position_ids`).toEqual(g.position_ids);
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
