import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ArrowDataset } from '../src/arrow-reader.ts';
import { packingCases } from './golden.ts';

/** The folders tools/device/arrow_check.py loads with pyarrow on the GPU box must hold the golden packs. */
const FIX = new URL('../../../tools/device/arrow-fixtures/', import.meta.url).pathname;

describe('tools/device/arrow-fixtures', () => {
  it('every case folder equals the packing golden', async () => {
    for (const [ci, c] of packingCases.entries()) {
      const ds = await ArrowDataset.open(join(FIX, `case${ci}`));
      expect(ds.length).toBe(c.packs.length);
      for (let i = 0; i < ds.length; i++) {
        const r = await ds.get(i);
        for (const k of ['input_ids', 'labels', 'cumulative_len', 'position_ids'] as const)
          expect(Array.from(r[k]!)).toEqual(c.packs[i]![k]);
      }
      await ds.close();
    }
  });
});
