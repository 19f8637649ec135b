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
  private constructor(readonly name: string, private readonly ds: ArrowDataset, readonly lengths: Int32Array) {}

  static async open(dir: string): Promise<ArrowSource> {
    const ds = await ArrowDataset.open(dir);
    return new ArrowSource(dir, ds, await ds.lengths('input_ids'));
  }

  async read(i: number): Promise<Sample> {
    const r = await this.ds.get(i);
    return { input_ids: r.input_ids!, labels: r.labels ?? r.input_ids! };
  }

  async close(): Promise<void> {
    // Rows are read through handles the dataset keeps open; they are released at the end of the run.
  }

  /** Release the files. */
  async dispose(): Promise<void> {
    await this.ds.close();
  }
}
