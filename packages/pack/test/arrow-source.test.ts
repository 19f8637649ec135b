import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pack, Sample } from '@weft/core';
import { ArrowDatasetWriter } from '../src/arrow-writer.ts';
import { ArrowSource } from '../src/arrow-source.ts';
import { PackedDataset } from '../src/packed-dataset.ts';
import type { LengthSource } from '../src/length-seeded.ts';

const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** Deterministic samples: lengths 0..300, labels masking every third token. */
function samples(n: number, seed: number): Sample[] {
  let x = seed;
  const rnd = (k: number): number => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) % k;
  return Array.from({ length: n }, () => {
    const len = rnd(7) === 0 ? 0 : rnd(300);
    const input_ids = Int32Array.from({ length: len }, () => rnd(150000));
    const labels = Int32Array.from(input_ids, (v, i) => (i % 3 === 0 ? -100 : v));
    return { input_ids, labels };
  });
}

async function write(dir: string, rows: Sample[], opts: { batchRows: number; maxShardBytes: number }): Promise<void> {
  const w = await ArrowDatasetWriter.create(dir, { columns: ['input_ids', 'labels'], ...opts });
  for (const r of rows) await w.write({ input_ids: r.input_ids, labels: r.labels });
  await w.finish();
}

async function packAll(sources: LengthSource[], packedLength: number): Promise<Pack[]> {
  const ds = PackedDataset.fromSources(sources, { packedLength, seed: 1024 });
  const out: Pack[] = [];
  for await (const p of ds) out.push(p);
  return out;
}

describe('ArrowSource: packing weft process samples from int32 ranges', () => {
  it('gives the same packs as packing the samples in memory, over many batches and shards', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-arrowsrc-'));
    temps.push(dir);
    const a = samples(400, 1),
      b = samples(150, 2);
    await write(join(dir, '0'), a, { batchRows: 37, maxShardBytes: 20_000 });
    await write(join(dir, '1'), b, { batchRows: 1000, maxShardBytes: 500 << 20 });
    const src = [await ArrowSource.open(join(dir, '0')), await ArrowSource.open(join(dir, '1'))];
    expect(
      src.every((s) => s.fillRange !== undefined),
      'plain shards take the range path',
    ).toBe(true);
    const memory: LengthSource[] = [a, b].map((rows, f) => ({
      name: `m${f}`,
      lengths: Int32Array.from(rows, (r) => r.input_ids.length),
      read: (i: number) => rows[i]!,
    }));
    for (const L of [64, 1000]) {
      const want = await packAll(memory, L);
      const got = await packAll(src, L);
      // Through `read` only (the decoded-batch path): same packs too.
      const viaRead = await packAll(
        src.map((s) => ({ name: s.name, lengths: s.lengths, read: (i: number) => s.read(i), close: () => s.close() })),
        L,
      );
      expect(got.length).toBe(want.length);
      expect(want.length).toBeGreaterThan(10);
      for (const [i, p] of want.entries()) {
        for (const k of ['input_ids', 'labels', 'cumulative_len', 'position_ids'] as const) {
          expect(Array.from(got[i]![k]), `L ${L} pack ${i} ${k}`).toEqual(Array.from(p[k]));
          expect(Array.from(viaRead[i]![k]), `L ${L} read-path pack ${i} ${k}`).toEqual(Array.from(p[k]));
        }
      }
    }
    for (const s of src) await s.close();
  });

  it('takes the checked path when a row has labels of another length, and names the sample', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-arrowsrc-bad-'));
    temps.push(dir);
    const rows = samples(20, 3).filter((r) => r.input_ids.length > 2);
    rows[1] = { input_ids: rows[1]!.input_ids, labels: rows[1]!.labels.subarray(1) };
    await write(dir, rows, { batchRows: 1000, maxShardBytes: 500 << 20 });
    const src = await ArrowSource.open(dir);
    expect(src.fillRange).toBeUndefined();
    await expect(packAll([src], 16)).rejects.toThrow(/sample 1 /);
    await src.close();
  });
});
