import type { Sample } from '@weft/core';
import { ArrowDataset } from './arrow-reader.ts';
import type { LengthSource } from './length-seeded.ts';

/**
 * A tokenized Arrow dataset (columns input_ids, labels) as a {@link LengthSource}, for
 * length-seeded packing of `weft process` output: lengths from the list offsets, rows read on demand.
 *
 * @example
 * const src = await ArrowSource.open('out/samples/0');
 * const ds = PackedDataset.fromSources([src], { packedLength: 8192 });
 */
export class ArrowSource implements LengthSource {
  private ds: Promise<ArrowDataset> | undefined;

  private constructor(readonly name: string, readonly lengths: Int32Array) {}

  /** Reads the lengths, then lets the files go: a folder of thousands of splits keeps one open at a time. */
  static async open(dir: string): Promise<ArrowSource> {
    const ds = await ArrowDataset.open(dir);
    try {
      return new ArrowSource(dir, await ds.lengths('input_ids'));
    } finally {
      await ds.close();
    }
  }

  async read(i: number): Promise<Sample> {
    this.ds ??= ArrowDataset.open(this.name);
    const r = await (await this.ds).get(i);
    return { input_ids: r.input_ids!, labels: r.labels ?? r.input_ids! };
  }

  async close(): Promise<void> {
    const d = this.ds;
    this.ds = undefined;
    if (d) await (await d).close();
  }
}
