import { join } from 'node:path';
import { BinFile, dataOrder, readBinMeta, readDataOrder } from '@weft/order';
import type { LengthSource } from './length-seeded.ts';

/** Options of {@link binSources}. */
export interface BinSourceOptions {
  /** Drop samples with fewer tokens than this (xtuner's `min_length`, from the meta). 0 keeps all. */
  minLength?: number;
  /** A `data_order.txt` listing the `.bin` files; default: weft's deterministic walk of the folder. */
  dataOrderPath?: string;
}

/**
 * One InternLM `.bin` as a {@link LengthSource}: lengths from its `.meta` (after `minLength`),
 * tokens read lazily by offset. The file is opened on first read; `close()` releases it.
 */
export class BinSource implements LengthSource {
  private bin: Promise<BinFile> | undefined;

  /** `rows[k]` = the `.bin` line of sample k (lines shorter than minLength are skipped); `lines` = lines in the meta. */
  constructor(readonly name: string, readonly lengths: Int32Array, readonly rows: Int32Array, readonly lines = rows.length) {}

  static async open(path: string, minLength = 0): Promise<BinSource> {
    const meta = await readBinMeta(path);
    if (minLength <= 0) return new BinSource(path, meta.lengths, Int32Array.from({ length: meta.count }, (_, i) => i));
    let n = 0;
    for (let i = 0; i < meta.count; i++) if (meta.lengths[i]! >= minLength) n++;
    const lengths = new Int32Array(n), rows = new Int32Array(n);
    for (let i = 0, k = 0; i < meta.count; i++) {
      if (meta.lengths[i]! >= minLength) {
        lengths[k] = meta.lengths[i]!;
        rows[k++] = i;
      }
    }
    return new BinSource(path, lengths, rows, meta.count);
  }

  async read(i: number): Promise<Int32Array> {
    this.bin ??= BinFile.open(this.name);
    return (await this.bin).read(this.rows[i]!);
  }

  async close(): Promise<void> {
    const b = this.bin;
    this.bin = undefined;
    if (b) await (await b).close();
  }
}

/**
 * The `.bin` files of a folder in data order, each as a lazily read {@link BinSource}.
 *
 * @example
 * const sources = await binSources('data/tokenized', { minLength: 50 });
 */
export async function binSources(folder: string, options: BinSourceOptions = {}): Promise<BinSource[]> {
  const files = options.dataOrderPath ? await readDataOrder(options.dataOrderPath, folder) : await dataOrder(folder, { fileType: '.bin' });
  const out: BinSource[] = [];
  for (const f of files) out.push(await BinSource.open(join(folder, f), options.minLength ?? 0));
  return out;
}
