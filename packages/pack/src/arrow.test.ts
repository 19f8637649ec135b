import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tableFromIPC, Type, type List } from 'apache-arrow';
import { OUTPUT_MARKER } from '@weft/core';
import { ArrowDatasetWriter } from './arrow-writer.ts';
import { ArrowDataset } from './arrow-reader.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const cols = ['input_ids', 'labels'];
function row(i: number): Record<string, Int32Array> {
  const n = (i * 7) % 13;
  return {
    input_ids: Int32Array.from({ length: n }, (_, k) => i * 100 + k),
    labels: Int32Array.from({ length: n }, (_, k) => (k % 2 ? -100 : k)),
  };
}

async function writeRows(dir: string, n: number, opts: { maxShardBytes?: number; batchRows?: number } = {}) {
  const w = await ArrowDatasetWriter.create(dir, { columns: cols, ...opts });
  for (let i = 0; i < n; i++) await w.write(row(i));
  return w.finish();
}

describe('Arrow dataset folder', () => {
  it('writes the layout and JSON files of save_to_disk exactly', async () => {
    const dir = join(tempDir('weft-arrow-'), 'ds');
    const res = await writeRows(dir, 50, { maxShardBytes: 1500, batchRows: 8 });
    expect(res.shards.length).toBeGreaterThan(1);
    // Rows here are < 110 bytes: each shard stays within the bound plus one row.
    for (const s of res.shards) expect(readFileSync(join(dir, s)).length).toBeLessThanOrEqual(1500 + 110);
    expect(readdirSync(dir).sort()).toEqual([...res.shards, OUTPUT_MARKER, 'dataset_info.json', 'state.json'].sort());
    expect(res.shards[0]).toBe(`data-00000-of-0000${res.shards.length}.arrow`);
    // Hand-written from formats.md, not from the code.
    expect(readFileSync(join(dir, 'state.json'), 'utf8')).toBe(
      `{\n  "_data_files": [\n${res.shards.map((s) => `    {\n      "filename": "${s}"\n    }`).join(',\n')}\n  ],\n` +
        `  "_fingerprint": "${res.fingerprint}",\n  "_format_columns": null,\n  "_format_kwargs": {},\n  "_format_type": null,\n` +
        `  "_output_all_columns": false,\n  "_split": null\n}`,
    );
    expect(res.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    const info = JSON.parse(readFileSync(join(dir, 'dataset_info.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(info)).toEqual([
      'builder_name',
      'citation',
      'config_name',
      'dataset_name',
      'dataset_size',
      'description',
      'download_checksums',
      'download_size',
      'features',
      'homepage',
      'license',
      'post_processed',
      'post_processing_size',
      'size_in_bytes',
      'splits',
      'supervised_keys',
      'version',
    ]);
    expect(readFileSync(join(dir, 'dataset_info.json'), 'utf8')).toContain(
      `"features": {\n    "input_ids": {\n      "feature": {\n        "dtype": "int32",`,
    );

    // Each shard is an IPC *stream* that apache-arrow's own reader opens, with pyarrow's schema.
    let seen = 0;
    for (const s of res.shards) {
      const bytes = readFileSync(join(dir, s));
      expect(bytes.subarray(0, 4).toString('hex')).toBe('ffffffff'); // stream, not the file format ("ARROW1")
      expect(bytes.subarray(-8).toString('hex')).toBe('ffffffff00000000');
      const t = tableFromIPC(bytes);
      expect(t.schema.fields.map((f) => f.name)).toEqual(cols);
      for (const f of t.schema.fields) {
        expect(f.type.typeId).toBe(Type.List);
        const child = (f.type as List).children[0]!;
        expect([child.name, child.nullable, child.type.typeId, (child.type as { bitWidth?: number }).bitWidth]).toEqual(
          ['item', true, Type.Int, 32],
        );
      }
      expect(t.schema.metadata.get('huggingface')).toBe(
        '{"info": {"features": {"input_ids": {"feature": {"dtype": "int32", "_type": "Value"}, "_type": "Sequence"}, ' +
          '"labels": {"feature": {"dtype": "int32", "_type": "Value"}, "_type": "Sequence"}}}}',
      );
      for (let r = 0; r < t.numRows; r++, seen++) {
        expect(Array.from(t.getChild('input_ids')!.get(r)!.toArray() as Int32Array)).toEqual(
          Array.from(row(seen).input_ids),
        );
      }
    }
    expect(seen).toBe(50);
  });

  it('reads rows back by random access and in order', async () => {
    const dir = join(tempDir('weft-arrow-'), 'ds');
    await writeRows(dir, 40, { maxShardBytes: 1000, batchRows: 3 });
    const ds = await ArrowDataset.open(dir);
    expect(ds.length).toBe(40);
    expect(ds.columns).toEqual(cols);
    for (const i of [39, 0, 17, 18, 5]) {
      const r = await ds.get(i);
      expect(Array.from(r.input_ids!)).toEqual(Array.from(row(i).input_ids));
      expect(Array.from(r.labels!)).toEqual(Array.from(row(i).labels));
    }
    expect(Array.from(await ds.lengths('labels'))).toEqual(Array.from({ length: 40 }, (_, k) => row(k).labels.length));
    let i = 0;
    for await (const r of ds.rows()) expect(Array.from(r.labels!)).toEqual(Array.from(row(i++).labels));
    await ds.close();
  });

  it('is byte-identical on rerun and leaves no temp folder', async () => {
    const base = tempDir('weft-arrow-');
    await writeRows(join(base, 'a'), 30, { maxShardBytes: 2000 });
    await writeRows(join(base, 'b'), 30, { maxShardBytes: 2000 });
    for (const f of readdirSync(join(base, 'a')))
      expect(readFileSync(join(base, 'b', f)).equals(readFileSync(join(base, 'a', f)))).toBe(true);
    expect(readdirSync(base).sort()).toEqual(['a', 'b']);
  });

  it('names the file of a corrupt shard', async () => {
    const dir = join(tempDir('weft-arrow-'), 'ds');
    await writeRows(dir, 10);
    const { truncateSync } = await import('node:fs');
    truncateSync(join(dir, 'data-00000-of-00001.arrow'), 300);
    await expect(ArrowDataset.open(dir)).rejects.toThrow(/data-00000-of-00001\.arrow.*truncated/);
  });
});

describe('ArrowDataset on folders weft did not write', () => {
  it('reads a stream with a null row (the batch-decoding path)', async () => {
    const { vectorFromArray, Field, List, Int32, Table, tableToIPC } = await import('apache-arrow');
    const { writeFileSync, mkdirSync } = await import('node:fs');
    const dir = join(tempDir('weft-arrow-'), 'ds');
    mkdirSync(dir);
    const ids = vectorFromArray([[1, 2], null, [3]], new List(new Field('item', new Int32(), true)));
    const t = new Table({ input_ids: ids });
    writeFileSync(join(dir, 'data-00000-of-00001.arrow'), tableToIPC(t, 'stream'));
    writeFileSync(
      join(dir, 'state.json'),
      JSON.stringify({ _data_files: [{ filename: 'data-00000-of-00001.arrow' }] }),
    );
    const ds = await ArrowDataset.open(dir);
    expect(ds.length).toBe(3);
    expect(Array.from((await ds.get(0)).input_ids!)).toEqual([1, 2]);
    expect(Array.from((await ds.get(1)).input_ids!)).toEqual([]);
    expect(Array.from((await ds.get(2)).input_ids!)).toEqual([3]);
    expect(Array.from(await ds.lengths())).toEqual([2, 0, 1]);
    await ds.close();
  });
});

describe("int64 columns (xtuner's saved labels) written by pyarrow", () => {
  // Row 0 fits; row 1 holds 2**40; row 2 is a null list, which makes its batch (rows 2-3) take the decode path.
  const PY = `
import json, os, sys, pyarrow as pa
d = sys.argv[1]
t = pa.table({'input_ids': pa.array([[1, 2], [3], [4], [5, 6]], pa.list_(pa.int32())),
              'labels': pa.array([[-100, 2], [2**40], None, [7, -100]], pa.list_(pa.int64()))})
with pa.ipc.new_stream(os.path.join(d, 'data-00000-of-00001.arrow'), t.schema) as w:
    w.write_table(t.slice(0, 2))
    w.write_table(t.slice(2, 2))
json.dump({'_data_files': [{'filename': 'data-00000-of-00001.arrow'}]}, open(os.path.join(d, 'state.json'), 'w'))`;

  it('reads int64 values as Int32Array on both paths, and names the file for one that does not fit', async () => {
    const dir = tempDir('weft-arrow-int64-');
    execFileSync('python3', ['-c', PY, dir]);
    const ds = await ArrowDataset.open(dir);
    expect(Array.from((await ds.get(0)).labels!)).toEqual([-100, 2]);
    expect((await ds.get(0)).labels).toBeInstanceOf(Int32Array);
    await expect(ds.get(1)).rejects.toThrow(/data-00000-of-00001\.arrow.*does not fit in int32/);
    expect(Array.from((await ds.get(2)).labels!)).toEqual([]);
    expect(Array.from((await ds.get(2)).input_ids!)).toEqual([4]);
    expect((await ds.get(3)).labels).toBeInstanceOf(Int32Array);
    expect(Array.from((await ds.get(3)).labels!)).toEqual([7, -100]);
    expect(Array.from(await ds.lengths('labels'))).toEqual([2, 1, 0, 2]);
    await ds.close();
  });
});
