import { createHash } from 'node:crypto';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Data, Int32, Int64, List, RecordBatch, Schema } from 'apache-arrow';
import { arrowBuild } from './arrow-lib.ts';
import { AtomicFile, StagedOutputDir, writeFileAtomic, type OutputDirOptions } from '@weft/core';
import { datasetInfoJson, huggingfaceSchemaMetadata, shardName, stateJson } from './hf-json.ts';

const {
  Field,
  Int32: Int32Type,
  Int64: Int64Type,
  List: ListType,
  makeData,
  RecordBatch: Batch,
  RecordBatchStreamWriter,
  Schema: SchemaClass,
  Struct,
} = arrowBuild;

/** Options of {@link ArrowDatasetWriter}. */
export interface ArrowDatasetWriterOptions {
  /** Column names, each a list of int32 (e.g. input_ids, labels, cumulative_len, position_ids). */
  columns: readonly string[];
  /**
   * Columns stored as list<int64> instead (values still written as Int32Array, widened): what
   * `datasets` gives xtuner's `labels` ({@link SAMPLE_INT64_COLUMNS}).
   */
  int64Columns?: readonly string[];
  /** Start a new shard past this many bytes. HF uses about 500 MB. Smaller: more files, less per file. */
  maxShardBytes?: number;
  /** Rows per record batch at most (HF writes 1000). */
  batchRows?: number;
  /** Bytes per record batch at most, so huge rows do not make huge batches. Larger: fewer batches, more memory. */
  batchBytes?: number;
  /**
   * Who writes the folder and what it may replace (see `checkOutputDir` in core). Default: the
   * `arrow` command, no inputs, no `overwrite`, so an existing non-empty folder is never replaced.
   */
  output?: OutputDirOptions;
}

/** The Arrow schema `save_to_disk` gives list-of-int32 (or `int64`) columns (child field `item`, nullable). */
export function hfSchema(columns: readonly string[], int64: readonly string[] = []): Schema {
  const list = (c: string) =>
    new ListType(new Field('item', int64.includes(c) ? new Int64Type() : new Int32Type(), true));
  return new SchemaClass(
    columns.map((c) => new Field(c, list(c), true)),
    new Map([['huggingface', huggingfaceSchemaMetadata(columns, int64)]]),
  );
}

/** The schema message's byte length at the head of an encapsulated IPC stream. */
function firstMessageLength(bytes: Uint8Array): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return dv.getInt32(0, true) === -1 ? 8 + dv.getInt32(4, true) : 4 + dv.getInt32(0, true);
}

const EOS = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0);

/**
 * A folder's `_fingerprint`: a hash of its Arrow files' SHA-256 digests (in order) and the columns.
 * Built from per-file digests so that a split assembled from several shards' files
 * (`weft merge`) gets the fingerprint a single writer gives the same files.
 *
 * @example
 * fingerprintOf(['9f86d0...', 'a3c1...'], ['input_ids', 'labels']); // '0c4f...' (16 hex)
 */
export function fingerprintOf(fileSha256: readonly string[], columns: readonly string[]): string {
  return createHash('sha256')
    .update(`${fileSha256.join('\n')}\n${JSON.stringify(columns)}`)
    .digest('hex')
    .slice(0, 16);
}

/** One Arrow file a writer produced: its final name, size and SHA-256. */
export interface WrittenFile {
  name: string;
  bytes: number;
  sha256: string;
}

/**
 * Writes a HF `datasets` folder (`Dataset.save_to_disk` layout) row by row with bounded memory:
 * Arrow IPC stream shards, `dataset_info.json`, `state.json`. Everything goes to a temp folder
 * beside `dir`, renamed onto `dir` by {@link finish}: the folder appears whole or not at all, with
 * weft's output marker, and replaces only a previous weft output when `output.overwrite` is set.
 * The fingerprint is a hash of the shard bytes, so reruns give identical files.
 *
 * @example
 * const w = await ArrowDatasetWriter.create('out/packed', { columns: ['input_ids', 'labels'] });
 * await w.write({ input_ids, labels });
 * await w.finish();
 */
export class ArrowDatasetWriter {
  readonly schema: Schema;
  private readonly maxShardBytes: number;
  private readonly batchRows: number;
  private readonly batchBytes: number;
  private pending: Record<string, Int32Array>[] = [];
  private pendingBytes = 0;
  private shard: AtomicFile | undefined;
  private shardTmpNames: string[] = [];
  private shardHashes: string[] = [];
  private shardSizes: number[] = [];
  private hash = createHash('sha256');
  rows = 0;
  bytes = 0;

  private readonly int64: readonly string[];

  private constructor(
    readonly dir: string,
    private readonly staged: StagedOutputDir,
    readonly columns: readonly string[],
    opts: ArrowDatasetWriterOptions,
  ) {
    this.int64 = opts.int64Columns ?? [];
    this.schema = hfSchema(columns, this.int64);
    this.maxShardBytes = opts.maxShardBytes ?? 500 << 20;
    this.batchRows = opts.batchRows ?? 1000;
    // A shard is cut between batches, so a batch never outgrows the shard bound.
    this.batchBytes = Math.min(opts.batchBytes ?? 16 << 20, this.maxShardBytes);
  }

  static async create(dir: string, opts: ArrowDatasetWriterOptions): Promise<ArrowDatasetWriter> {
    if (opts.columns.length === 0) throw new RangeError('ArrowDatasetWriter needs at least one column');
    const staged = await StagedOutputDir.create(dir, opts.output ?? { command: 'arrow' });
    return new ArrowDatasetWriter(dir, staged, opts.columns, opts);
  }

  /** The temp folder the dataset is written into until {@link finish}. */
  get tmpDir(): string {
    return this.staged.path;
  }

  async write(row: Record<string, Int32Array>): Promise<void> {
    let b = 0;
    for (const c of this.columns) {
      const v = row[c];
      if (!(v instanceof Int32Array)) throw new TypeError(`row is missing column ${c} (an Int32Array)`);
      b += v.byteLength + 4;
    }
    this.pending.push(row);
    this.pendingBytes += b;
    this.rows++;
    if (this.pending.length >= this.batchRows || this.pendingBytes >= this.batchBytes) await this.flushBatch();
  }

  private buildBatch(rows: Record<string, Int32Array>[]): RecordBatch {
    const children: Data[] = this.columns.map((c, ci) => {
      let total = 0;
      for (const r of rows) total += r[c]!.length;
      const wide = this.int64.includes(c);
      // int64 values as little-endian word pairs (low word, sign): no BigInt per value.
      const values = new Int32Array(wide ? 2 * total : total);
      const offsets = new Int32Array(rows.length + 1);
      let at = 0;
      rows.forEach((r, i) => {
        const v = r[c]!;
        if (!wide) values.set(v, at);
        else
          for (let k = 0; k < v.length; k++) {
            values[2 * (at + k)] = v[k]!;
            values[2 * (at + k) + 1] = v[k]! >> 31;
          }
        at += v.length;
        offsets[i + 1] = at;
      });
      const type = this.schema.fields[ci]!.type as List<Int32 | Int64>;
      const child = wide
        ? makeData({ type: new Int64Type(), length: total, nullCount: 0, data: new BigInt64Array(values.buffer) })
        : makeData({ type: new Int32Type(), length: total, nullCount: 0, data: values });
      return makeData({ type, length: rows.length, nullCount: 0, valueOffsets: offsets, child });
    });
    const struct = makeData({ type: new Struct(this.schema.fields), length: rows.length, nullCount: 0, children });
    return new Batch(this.schema, struct);
  }

  private async flushBatch(): Promise<void> {
    if (this.pending.length === 0) return;
    const stream = RecordBatchStreamWriter.writeAll([this.buildBatch(this.pending)]).toUint8Array(true);
    this.pending = [];
    this.pendingBytes = 0;
    const head = firstMessageLength(stream);
    // Start a new shard rather than let this batch push the current one past the bound.
    if (this.shard && this.shard.bytes + stream.length - head > this.maxShardBytes) await this.closeShard();
    if (!this.shard) {
      const name = join(this.tmpDir, `shard-${this.shardTmpNames.length}`);
      this.shardTmpNames.push(name);
      this.shard = await AtomicFile.create(name);
      await this.out(stream.subarray(0, head));
    }
    await this.out(stream.subarray(head, stream.length - EOS.length));
  }

  private async out(b: Uint8Array): Promise<void> {
    this.hash.update(b);
    this.bytes += b.length;
    await this.shard!.write(b);
  }

  private async closeShard(): Promise<void> {
    if (!this.shard) return;
    await this.out(EOS);
    this.shardSizes.push(this.shard.bytes);
    await this.shard.commit();
    this.shard = undefined;
    this.shardHashes.push(this.hash.digest('hex'));
    this.hash = createHash('sha256');
  }

  /**
   * End the current Arrow file here: the next row starts a new one, as a fresh writer would.
   * `weft process` cuts at the byte-range boundaries of large inputs, so a single run writes the
   * same files as shards that each write one range.
   */
  async cut(): Promise<void> {
    await this.flushBatch();
    await this.closeShard();
  }

  /**
   * Write the last batch and the JSON files, then move the folder onto `dir` (replacing only an
   * earlier weft output, and only when `output.overwrite` allows it).
   * `extra` files (name → text) are committed with the folder, e.g. a record of how it was made.
   */
  async finish(
    extra: Record<string, string> = {},
  ): Promise<{ rows: number; shards: string[]; fingerprint: string; files: WrittenFile[] }> {
    await this.flushBatch();
    if (this.shardTmpNames.length === 0) {
      // An empty dataset still has one shard: the schema and the end-of-stream marker.
      const stream = RecordBatchStreamWriter.writeAll([this.buildBatch([])]).toUint8Array(true);
      const name = join(this.tmpDir, 'shard-0');
      this.shardTmpNames.push(name);
      this.shard = await AtomicFile.create(name);
      await this.out(stream.subarray(0, firstMessageLength(stream)));
    }
    await this.closeShard();
    const n = this.shardTmpNames.length;
    const shards = this.shardTmpNames.map((_, k) => shardName(k, n));
    for (let k = 0; k < n; k++) await rename(this.shardTmpNames[k]!, join(this.tmpDir, shards[k]!));
    const fingerprint = fingerprintOf(this.shardHashes, this.columns);
    await writeFileAtomic(join(this.tmpDir, 'dataset_info.json'), datasetInfoJson(this.columns, this.int64));
    await writeFileAtomic(join(this.tmpDir, 'state.json'), stateJson(shards, fingerprint));
    for (const [name, text] of Object.entries(extra)) await writeFileAtomic(join(this.tmpDir, name), text);
    await this.staged.commit();
    const files = shards.map((name, k) => ({ name, bytes: this.shardSizes[k]!, sha256: this.shardHashes[k]! }));
    return { rows: this.rows, shards, fingerprint, files };
  }

  /** Drop everything written (the temp folder). */
  async abort(): Promise<void> {
    if (this.shard) await this.shard.abort();
    await this.staged.abort();
  }
}
