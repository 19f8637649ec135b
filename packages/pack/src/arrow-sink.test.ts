import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { tempDir } from '../../../tools/test/temp-dir.ts';
import { arrowSink } from './arrow-sink.ts';
import { RANGE_CUT } from './range-samples.ts';

const row = (i: number): { input_ids: Int32Array; labels: Int32Array } => ({
  input_ids: Int32Array.from([i, i + 1]),
  labels: Int32Array.from([-100, i]),
});

describe('arrowSink', () => {
  it('writes every row in order, starts a new Arrow file at each cut, and commits the extra files', async () => {
    const dir = join(tempDir('weft-sink-'), 'ds');
    async function* src(): AsyncIterable<ReturnType<typeof row> | typeof RANGE_CUT> {
      for (let i = 0; i < 5; i++) yield row(i);
      yield RANGE_CUT;
      for (let i = 5; i < 8; i++) yield row(i);
    }
    let seen = 0;
    const res = await arrowSink(src(), dir, {
      columns: ['input_ids', 'labels'],
      onRow: () => {
        seen++;
      },
      extraFiles: () => ({ 'note.json': `{"rows": ${seen}}` }),
    });
    expect(res.rows).toBe(8);
    expect(res.files.map((f) => f.name)).toEqual(['data-00000-of-00002.arrow', 'data-00001-of-00002.arrow']);
    // Read back with apache-arrow's own IPC reader: 5 rows, then 3.
    const tables = res.files.map((f) => tableFromIPC(readFileSync(join(dir, f.name))));
    expect(tables.map((t) => t.numRows)).toEqual([5, 3]);
    const ids = tables.flatMap((t) =>
      Array.from({ length: t.numRows }, (_, r) => Array.from(t.getChild('input_ids')!.get(r)!.toArray() as Int32Array)),
    );
    expect(ids).toEqual(Array.from({ length: 8 }, (_, i) => [i, i + 1]));
    expect(readFileSync(join(dir, 'note.json'), 'utf8')).toBe('{"rows": 8}');
  });

  it('a failing source leaves nothing at dir and no temp folder', async () => {
    const parent = tempDir('weft-sink-');
    async function* src(): AsyncIterable<ReturnType<typeof row>> {
      yield row(0);
      throw new Error('line 2: bad');
    }
    await expect(arrowSink(src(), join(parent, 'ds'), { columns: ['input_ids', 'labels'] })).rejects.toThrow(
      'line 2: bad',
    );
    expect(existsSync(join(parent, 'ds'))).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
  });
});
