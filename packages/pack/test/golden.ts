import { readFileSync } from 'node:fs';

/** One case of golden/packing.json (see the golden README). */
export interface PackingCase {
  files: number[][][];
  packed_length: number;
  seed: number;
  min_length: number;
  packs: { input_ids: number[]; labels: number[]; cumulative_len: number[]; position_ids: number[] }[];
  sampler: { world_size: number; seed: number; epochs: Record<string, number[][]> };
}

export const packingCases = JSON.parse(
  readFileSync(new URL('./fixtures/packing.json', import.meta.url), 'utf8'),
) as PackingCase[];
