import { describe, expect, it, vi } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../../tools/test/temp-dir.ts';

// The writer takes apache-arrow's classes from the package's single-file build (arrow-lib.ts); the
// same writer on the package's ES modules must write the same bytes.
describe("the Arrow writer on apache-arrow's single-file build", () => {
  it('writes the bytes it writes on the ES modules (int32 and int64 columns, several shards and batches)', async () => {
    const base = tempDir('weft-arrow-build-');
    const rows = Array.from({ length: 300 }, (_, i) => {
      const n = (i * 11) % 37;
      return {
        input_ids: Int32Array.from({ length: n }, (_, k) => i * 1000 + k - 5),
        labels: Int32Array.from({ length: n }, (_, k) => (k % 3 ? -100 : k)),
      };
    });
    const write = async (dir: string): Promise<Map<string, Buffer>> => {
      const { ArrowDatasetWriter } = await import('./arrow-writer.ts');
      const w = await ArrowDatasetWriter.create(dir, {
        columns: ['input_ids', 'labels'],
        int64Columns: ['labels'],
        maxShardBytes: 20_000,
        batchRows: 64,
      });
      for (const r of rows) await w.write(r);
      await w.finish();
      return new Map(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))]));
    };
    const built = await write(join(base, 'build'));
    vi.resetModules();
    vi.doMock('./arrow-lib.ts', async () => ({ arrowBuild: await vi.importActual('apache-arrow') }));
    const esm = await write(join(base, 'esm'));
    vi.doUnmock('./arrow-lib.ts');
    expect([...built.keys()].filter((f) => f.endsWith('.arrow')).length).toBeGreaterThan(2);
    expect([...esm.keys()].sort()).toEqual([...built.keys()].sort());
    for (const [f, bytes] of built) expect(bytes.equals(esm.get(f)!), f).toBe(true);
  });
});
