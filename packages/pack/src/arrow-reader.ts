import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type * as A from 'apache-arrow';
import { DataError } from '@weft/core';

let lib: typeof A | undefined;
/** apache-arrow's reading side: loaded by the first {@link ArrowDataset.open}, so commands that never read Arrow start without it. */
async function loadArrow(): Promise<typeof A> {
  return (lib ??= await import('apache-arrow'));
}
/** The library, once an open has loaded it. */
const arrow = (): typeof A => lib!;

interface BatchRef {
  shard: number;
  /** Byte offset of the message (its continuation marker) and its full length, body included. */
  offset: number;
  length: number;
  rows: number;
  firstRow: number;
  /** File offset of the body, and per column the (offsets, values) buffer positions in it; absent when the fast path cannot read this batch. */
  body: number;
  direct: { offsets: number; values: number; width: 4 | 8 }[] | undefined;
}

interface Shard {
  path: string;
  fh: FileHandle;
  schemaMessage: Uint8Array;
}

/** See {@link ArrowDataset.valueLayout}. */
export interface ValueLayout {
  /** The shard files, in order. */
  shards: string[];
  /** Row → index into `shards`. */
  shardOf: Int32Array;
  /** Row → byte position of its first value in its shard. */
  start: Float64Array;
  /** Row → number of values. */
  lengths: Int32Array;
  /** Bytes per value: 4 (list<int32>) or 8 (list<int64>, e.g. the labels of xtuner's saved samples). */
  width: 4 | 8;
}

/**
 * int64 values (little-endian pairs of int32 words) as int32: every value must fit, as token ids
 * and labels do; `where` names the file for the error otherwise.
 */
export function narrowInt64(words: Int32Array, where: { file: string; offset?: number }): Int32Array {
  const out = new Int32Array(words.length >> 1);
  for (let k = 0; k < out.length; k++) {
    const lo = words[2 * k]!;
    if (words[2 * k + 1] !== lo >> 31)
      throw new DataError('an int64 value does not fit in int32 (token ids and labels must)', where, {
        reason: 'out-of-range',
      });
    out[k] = lo;
  }
  return out;
}

const EOS = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0);

/** Read one encapsulated IPC message header at `offset`: its metadata and total length. */
async function readMessageAt(
  fh: FileHandle,
  offset: number,
  size: number,
  path: string,
): Promise<{ message: A.Message; length: number; body: number } | undefined> {
  if (offset + 4 > size) return undefined;
  const pre = Buffer.alloc(8);
  await fh.read(pre, 0, Math.min(8, size - offset), offset);
  let metaLen = pre.readInt32LE(0),
    prefix = 4;
  if (metaLen === -1) {
    metaLen = pre.readInt32LE(4);
    prefix = 8;
  }
  if (metaLen === 0) return undefined;
  if (metaLen < 0 || offset + prefix + metaLen > size)
    throw new DataError(
      `truncated Arrow IPC message (metadata length ${metaLen})`,
      { file: path, offset },
      { reason: 'truncated' },
    );
  const meta = Buffer.alloc(metaLen);
  await fh.read(meta, 0, metaLen, offset + prefix);
  let message: A.Message;
  try {
    message = arrow().Message.decode(meta);
  } catch (e) {
    throw new DataError(
      `corrupt Arrow IPC message: ${(e as Error).message}`,
      { file: path, offset },
      { reason: 'corrupt', cause: e },
    );
  }
  const length = prefix + metaLen + Number(message.bodyLength);
  if (offset + length > size)
    throw new DataError(`truncated Arrow IPC message body`, { file: path, offset }, { reason: 'truncated' });
  return { message, length, body: offset + prefix + metaLen };
}

/**
 * Where each list<int32> (or list<int64>) column's offsets and values sit in a batch body, when the
 * batch is uncompressed, has no nulls and only such columns: then one row is two small reads per
 * column instead of decoding the batch (rows read in shuffled order stay cheap).
 */
function directLayout(
  message: A.Message<A.MessageHeader.RecordBatch>,
  widths: (4 | 8)[] | undefined,
): BatchRef['direct'] {
  const h = message.header();
  const ncols = widths?.length ?? 0;
  if (!widths || h.compression || h.nodes.length !== 2 * ncols || h.buffers.length !== 4 * ncols) return undefined;
  if (h.nodes.some((n) => Number(n.nullCount) !== 0)) return undefined;
  return widths.map((width, c) => ({
    offsets: Number(h.buffers[4 * c + 1]!.offset),
    values: Number(h.buffers[4 * c + 3]!.offset),
    width,
  }));
}

/** Bytes per value of each column when every column is a list of signed int32 or int64; else undefined. */
function listIntWidths(fields: { type: { typeId: A.Type; children: { type: unknown }[] } }[]): (4 | 8)[] | undefined {
  const widths: (4 | 8)[] = [];
  for (const f of fields) {
    const item = f.type.children[0]?.type as A.Int | undefined;
    if (
      f.type.typeId !== arrow().Type.List ||
      item?.typeId !== arrow().Type.Int ||
      !item.isSigned ||
      (item.bitWidth !== 32 && item.bitWidth !== 64)
    )
      return undefined;
    widths.push(item.bitWidth === 64 ? 8 : 4);
  }
  return widths;
}

/**
 * Random access by row to a HF `datasets` folder (what `save_to_disk` writes, or weft's
 * {@link ArrowDatasetWriter}). Opening scans message headers only; a row read loads one record
 * batch (the last one is kept for sequential reads).
 *
 * @example
 * const ds = await ArrowDataset.open('out/packed');
 * ds.length;                 // rows
 * (await ds.get(0)).input_ids; // Int32Array
 * for await (const row of ds.rows()) use(row);
 */
export class ArrowDataset {
  private cached: { batch: number; table: A.Table } | undefined;

  private constructor(
    readonly dir: string,
    readonly columns: string[],
    private readonly shards: Shard[],
    private readonly batches: BatchRef[],
    readonly length: number,
  ) {}

  static async open(dir: string): Promise<ArrowDataset> {
    await loadArrow();
    const statePath = join(dir, 'state.json');
    if (!existsSync(statePath)) {
      const hint = existsSync(join(dir, 'dataset_dict.json'))
        ? ' (it is a DatasetDict: open one of its splits, see dataset_dict.json)'
        : '';
      throw new DataError(`no state.json: not a datasets folder${hint}`, { file: dir }, { reason: 'not-dataset' });
    }
    let files: string[];
    try {
      const state = JSON.parse(await readFile(statePath, 'utf8')) as { _data_files: { filename: string }[] };
      files = state._data_files.map((f) => f.filename);
    } catch (e) {
      throw new DataError(
        `unreadable state.json: ${(e as Error).message}`,
        { file: statePath },
        { reason: 'invalid', cause: e },
      );
    }
    const shards: Shard[] = [];
    const batches: BatchRef[] = [];
    let columns: string[] = [];
    let widths: (4 | 8)[] | undefined;
    let rows = 0;
    for (const [k, f] of files.entries()) {
      const path = join(dir, f);
      const size = (await stat(path)).size;
      const fh = await open(path, 'r');
      let offset = 0,
        schemaMessage: Uint8Array | undefined;
      for (;;) {
        const m = await readMessageAt(fh, offset, size, path);
        if (!m) break;
        if (m.message.headerType === arrow().MessageHeader.Schema) {
          schemaMessage = Buffer.alloc(m.length);
          await fh.read(schemaMessage, 0, m.length, offset);
          if (k === 0) {
            const fields = (m.message as A.Message<A.MessageHeader.Schema>).header().fields;
            columns = fields.map((x) => x.name);
            widths = listIntWidths(fields);
          }
        } else if (m.message.headerType === arrow().MessageHeader.RecordBatch) {
          const msg = m.message as A.Message<A.MessageHeader.RecordBatch>;
          const n = msg.header().length;
          batches.push({
            shard: k,
            offset,
            length: m.length,
            rows: n,
            firstRow: rows,
            body: m.body,
            direct: directLayout(msg, widths),
          });
          rows += n;
        } else {
          throw new DataError(
            'dictionary batches are not supported',
            { file: path, offset },
            { reason: 'unsupported' },
          );
        }
        offset += m.length;
      }
      if (!schemaMessage)
        throw new DataError(
          'no Arrow schema message: not an IPC stream',
          { file: path, offset: 0 },
          { reason: 'corrupt' },
        );
      shards.push({ path, fh, schemaMessage });
    }
    return new ArrowDataset(dir, columns, shards, batches, rows);
  }

  private async table(b: number): Promise<A.Table> {
    if (this.cached?.batch === b) return this.cached.table;
    const ref = this.batches[b]!;
    const shard = this.shards[ref.shard]!;
    const buf = Buffer.alloc(shard.schemaMessage.length + ref.length + EOS.length);
    buf.set(shard.schemaMessage, 0);
    await shard.fh.read(buf, shard.schemaMessage.length, ref.length, ref.offset);
    buf.set(EOS, shard.schemaMessage.length + ref.length);
    const table = arrow().tableFromIPC(buf);
    this.cached = { batch: b, table };
    return table;
  }

  /** Row i as column name → Int32Array (list<int32> columns; list<int64> ones are narrowed, each value checked). */
  async get(i: number): Promise<Record<string, Int32Array>> {
    if (!Number.isInteger(i) || i < 0 || i >= this.length)
      throw new RangeError(`row ${i} out of range [0, ${this.length})`);
    let lo = 0,
      hi = this.batches.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.batches[mid]!.firstRow <= i) lo = mid;
      else hi = mid - 1;
    }
    const ref = this.batches[lo]!;
    const r = i - ref.firstRow;
    const out: Record<string, Int32Array> = {};
    if (ref.direct) {
      const fh = this.shards[ref.shard]!.fh;
      const pair = new Int32Array(2);
      for (const [c, name] of this.columns.entries()) {
        const d = ref.direct[c]!;
        await fh.read(new Uint8Array(pair.buffer), 0, 8, ref.body + d.offsets + 4 * r);
        const v = new Int32Array((pair[1]! - pair[0]!) * (d.width >> 2));
        const at = ref.body + d.values + d.width * pair[0]!;
        if (v.length > 0) await fh.read(new Uint8Array(v.buffer), 0, v.byteLength, at);
        out[name] = d.width === 8 ? narrowInt64(v, { file: this.shards[ref.shard]!.path, offset: at }) : v;
      }
      return out;
    }
    const t = await this.table(lo);
    for (const c of this.columns) {
      // A view of the decoded batch (no copy); the batch stays alive as long as the view does.
      const v = t.getChild(c)!.get(r) as { toArray(): Int32Array | BigInt64Array } | null;
      const a = v ? v.toArray() : new Int32Array(0);
      out[c] =
        a instanceof BigInt64Array
          ? narrowInt64(new Int32Array(a.buffer, a.byteOffset, 2 * a.length), { file: this.shards[ref.shard]!.path })
          : a;
    }
    return out;
  }

  /**
   * Where each row's values of the list<int32> or list<int64> `column` start in the shard files,
   * when every batch is plain (uncompressed, no nulls, list<int32|int64> columns only; what weft
   * and `save_to_disk` write): then any token range of a row is one positioned read, with no decoding.
   * Undefined otherwise. Memory: 12 bytes per row.
   *
   * @example
   * const l = await ds.valueLayout('input_ids');
   * // row r's values sit at byte l.start[r] of l.shards[l.shardOf[r]], l.lengths[r] of them, l.width bytes each
   */
  async valueLayout(column: string): Promise<ValueLayout | undefined> {
    const c = this.columns.indexOf(column);
    if (c < 0) throw new Error(`${this.dir}: no column ${column} (columns: ${this.columns.join(', ')})`);
    if (this.batches.some((b) => !b.direct)) return undefined;
    const lengths = new Int32Array(this.length),
      start = new Float64Array(this.length),
      shardOf = new Int32Array(this.length);
    let width: 4 | 8 = 4;
    for (const ref of this.batches) {
      width = ref.direct![c]!.width;
      const offs = new Int32Array(ref.rows + 1);
      await this.shards[ref.shard]!.fh.read(
        new Uint8Array(offs.buffer),
        0,
        offs.byteLength,
        ref.body + ref.direct![c]!.offsets,
      );
      const values = ref.body + ref.direct![c]!.values;
      for (let r = 0; r < ref.rows; r++) {
        lengths[ref.firstRow + r] = offs[r + 1]! - offs[r]!;
        start[ref.firstRow + r] = values + width * offs[r]!;
        shardOf[ref.firstRow + r] = ref.shard;
      }
    }
    return { shards: this.shards.map((s) => s.path), shardOf, start, lengths, width };
  }

  /** Length of `column` in every row (from the list offsets only). */
  async lengths(column = 'input_ids'): Promise<Int32Array> {
    const c = this.columns.indexOf(column);
    if (c < 0) throw new Error(`${this.dir}: no column ${column} (columns: ${this.columns.join(', ')})`);
    const out = new Int32Array(this.length);
    for (const [b, ref] of this.batches.entries()) {
      if (ref.direct) {
        const offs = new Int32Array(ref.rows + 1);
        await this.shards[ref.shard]!.fh.read(
          new Uint8Array(offs.buffer),
          0,
          offs.byteLength,
          ref.body + ref.direct[c]!.offsets,
        );
        for (let r = 0; r < ref.rows; r++) out[ref.firstRow + r] = offs[r + 1]! - offs[r]!;
      } else {
        const t = await this.table(b);
        const col = t.getChild(column)!;
        for (let r = 0; r < ref.rows; r++)
          out[ref.firstRow + r] = (col.get(r) as { length: number } | null)?.length ?? 0;
      }
    }
    return out;
  }

  /** Every row in order: a source stage. */
  async *rows(): AsyncIterable<Record<string, Int32Array>> {
    for (let i = 0; i < this.length; i++) yield await this.get(i);
  }

  async close(): Promise<void> {
    for (const s of this.shards) await s.fh.close();
  }
}
