import { closeSync, openSync, readSync } from 'node:fs';
import { DataError, type Sample } from '@weft/core';
import { ArrowDataset, type ValueLayout } from './arrow-reader.ts';
import type { LengthSource } from './length-seeded.ts';

/** Positioned reads of one column's token ranges into a reused buffer. */
class RangeReader {
  private scratch = new Int32Array(1 << 14);

  constructor(private readonly layout: ValueLayout, private readonly fds: number[]) {}

  /** Values [from, to) of row `row`: a view that the next call overwrites. */
  read(row: number, from: number, to: number): Int32Array {
    const n = to - from;
    if (!(from >= 0 && n >= 0 && to <= this.layout.lengths[row]!)) throw new RangeError(`values [${from}, ${to}) out of range of row ${row} (${this.layout.lengths[row]})`);
    if (n > this.scratch.length) this.scratch = new Int32Array(Math.max(n, 2 * this.scratch.length));
    const out = this.scratch.subarray(0, n);
    const bytes = new Uint8Array(out.buffer, 0, 4 * n);
    const shard = this.layout.shardOf[row]!;
    const pos = this.layout.start[row]! + 4 * from;
    for (let got = 0; got < bytes.length;) {
      const r = readSync(this.fds[shard]!, bytes, got, bytes.length - got, pos + got);
      if (r === 0) throw new DataError('Arrow shard ends early (changed while reading?)', { file: this.layout.shards[shard]!, offset: pos + got }, { reason: 'truncated' });
      got += r;
    }
    return out;
  }
}

/**
 * A tokenized Arrow dataset (columns input_ids, labels) as a {@link LengthSource}, for
 * length-seeded packing of `weft process` output: lengths from the list offsets, rows read on
 * demand. When the shards are plain IPC (as weft and `save_to_disk` write them), `readRange`
 * reads only a piece's int32 values, straight from the file, with no Arrow decoding.
 *
 * @example
 * const src = await ArrowSource.open('out/samples/0');
 * const ds = PackedDataset.fromSources([src], { packedLength: 8192 });
 */
export class ArrowSource implements LengthSource {
  private ds: Promise<ArrowDataset> | undefined;
  private fds: number[] | undefined;
  private readers: { ids: RangeReader; labels: RangeReader } | undefined;

  /** Tokens [start, end) of sample i as views (reused by the next call); only for plain shards. */
  readonly readRange?: (i: number, start: number, end: number) => Sample;

  private constructor(readonly name: string, readonly lengths: Int32Array, private readonly layout?: { ids: ValueLayout; labels: ValueLayout }) {
    if (layout) {
      this.readRange = (i, start, end) => {
        const r = this.rangeReaders();
        const input_ids = r.ids.read(i, start, end);
        return { input_ids, labels: r.labels === r.ids ? input_ids : r.labels.read(i, start, end) };
      };
    }
  }

  /** Reads the lengths (and where each row's values sit), then lets the files go: a folder of thousands of splits keeps one open at a time. */
  static async open(dir: string): Promise<ArrowSource> {
    const ds = await ArrowDataset.open(dir);
    try {
      const ids = await ds.valueLayout('input_ids');
      const labels = ds.columns.includes('labels') ? await ds.valueLayout('labels') : ids;
      // Rows whose labels differ in length from their input_ids take the checked path (which names them).
      if (ids && labels && ids.lengths.every((n, r) => n === labels.lengths[r])) return new ArrowSource(dir, ids.lengths, { ids, labels });
      return new ArrowSource(dir, await ds.lengths('input_ids'));
    } finally {
      await ds.close();
    }
  }

  private rangeReaders(): { ids: RangeReader; labels: RangeReader } {
    if (this.readers) return this.readers;
    const { ids, labels } = this.layout!;
    this.fds = ids.shards.map((p) => openSync(p, 'r'));
    const r = new RangeReader(ids, this.fds);
    this.readers = { ids: r, labels: labels === ids ? r : new RangeReader(labels, this.fds) };
    return this.readers;
  }

  async read(i: number): Promise<Sample> {
    this.ds ??= ArrowDataset.open(this.name);
    const r = await (await this.ds).get(i);
    return { input_ids: r.input_ids!, labels: r.labels ?? r.input_ids! };
  }

  async close(): Promise<void> {
    for (const fd of this.fds ?? []) closeSync(fd);
    this.fds = undefined;
    this.readers = undefined;
    const d = this.ds;
    this.ds = undefined;
    if (d) await (await d).close();
  }
}
