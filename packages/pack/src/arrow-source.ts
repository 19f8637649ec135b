import { closeSync, openSync, readSync } from 'node:fs';
import { DataError, type Pack, type Sample } from '@weft/core';
import { ArrowDataset, narrowInt64, type ValueLayout } from './arrow-reader.ts';
import type { LengthSource } from './length-seeded.ts';

/** Positioned reads of one column's value ranges straight into a destination array. */
class RangeReader {
  constructor(
    private readonly layout: ValueLayout,
    private readonly fds: number[],
  ) {}

  /** Values [from, to) of row `row`, written into `dst` at `at`. */
  readInto(row: number, from: number, to: number, dst: Int32Array, at: number): void {
    if (!(from >= 0 && from <= to && to <= this.layout.lengths[row]!))
      throw new RangeError(`values [${from}, ${to}) out of range of row ${row} (${this.layout.lengths[row]})`);
    const width = this.layout.width;
    // int64 values (xtuner's saved labels) are read whole, then narrowed into dst.
    const wide = width === 8 ? new Int32Array(2 * (to - from)) : undefined;
    const bytes = wide
      ? new Uint8Array(wide.buffer)
      : new Uint8Array(dst.buffer, dst.byteOffset + 4 * at, 4 * (to - from));
    const shard = this.layout.shardOf[row]!;
    const pos = this.layout.start[row]! + width * from;
    for (let got = 0; got < bytes.length;) {
      const r = readSync(this.fds[shard]!, bytes, got, bytes.length - got, pos + got);
      if (r === 0)
        throw new DataError(
          'Arrow shard ends early (changed while reading?)',
          { file: this.layout.shards[shard]!, offset: pos + got },
          { reason: 'truncated' },
        );
      got += r;
    }
    if (wide) dst.set(narrowInt64(wide, { file: this.layout.shards[shard]!, offset: pos }), at);
  }
}

/**
 * A tokenized Arrow dataset (columns input_ids, labels) as a {@link LengthSource}, for
 * length-seeded packing of `weft process` output: lengths from the list offsets, rows read on
 * demand. When the shards are plain IPC (as weft and `save_to_disk` write them), `fillRange`
 * reads only a piece's values (int32, or int64 labels narrowed), straight from the file into the pack.
 *
 * @example
 * const src = await ArrowSource.open('out/samples/0');
 * const ds = PackedDataset.fromSources([src], { packedLength: 8192 });
 */
export class ArrowSource implements LengthSource {
  private ds: Promise<ArrowDataset> | undefined;
  private fds: number[] | undefined;
  private readers: { ids: RangeReader; labels: RangeReader } | undefined;

  /** input_ids and labels of tokens [start, end) of sample i, read into a pack; only for plain shards. */
  readonly fillRange?: (i: number, start: number, end: number, pack: Pack, at: number) => void;

  private constructor(
    readonly name: string,
    readonly lengths: Int32Array,
    private readonly layout?: { ids: ValueLayout; labels: ValueLayout },
  ) {
    if (layout) {
      this.fillRange = (i, start, end, pack, at) => {
        const r = this.rangeReaders();
        r.ids.readInto(i, start, end, pack.input_ids, at);
        r.labels.readInto(i, start, end, pack.labels, at);
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
      if (ids && labels && ids.lengths.every((n, r) => n === labels.lengths[r]))
        return new ArrowSource(dir, ids.lengths, { ids, labels });
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
