import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AtomicFile, writeFileAtomic } from '@weft/core';
import { CASTABLE, castBytes } from './cast.ts';
import { parseSize } from './size.ts';
import { DTYPE_SIZE, numel, type DType, type TensorRecord } from './tensor.ts';

/** Options for {@link writeSafetensors}. */
export interface WriteSafetensorsOptions {
  /** Largest shard in bytes (or "2GB"); a tensor larger than this gets a shard of its own. Default 2GB, like xtuner. */
  maxShardSize?: number | string;
  /** Cast float tensors to this dtype on the way (integers keep theirs). Default: keep. */
  dtype?: DType;
  /** File stem: `model` gives model.safetensors / model-00001-of-00002.safetensors. */
  stem?: string;
  /** Called with the bytes of each tensor once written (for a progress bar). */
  onTensor?: (t: TensorRecord, bytes: number) => void;
  /** Bytes per read when streaming a tensor (rounded down to a multiple of 8). Default 16 MiB. */
  chunkBytes?: number;
  /** Extra `__metadata__` entries beside `format: pt`. */
  metadata?: Record<string, string>;
  /**
   * Replace `<stem>*.safetensors` files and the index already in `dir` (stale shards of an earlier
   * run are then removed). Default false: such files are refused before anything is written, so a
   * call can never delete weights it did not write.
   */
  replace?: boolean;
}

/** What was written. */
export interface WrittenSafetensors {
  files: string[];
  totalSize: number;
  tensors: number;
}

// safetensors' Rust Dtype enum order; the writer lays tensors out by descending dtype, then
// name, so that every tensor starts aligned to its element size.
const DTYPE_ORDER: DType[] = [
  'BOOL',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
  'C64',
];

function outDtype(t: TensorRecord, dtype: DType | undefined): DType {
  return dtype !== undefined && CASTABLE.has(t.dtype) ? dtype : t.dtype;
}

/**
 * The bytes of a safetensors header for these tensors (in the order given), space-padded so
 * the data buffer starts on an 8-byte boundary.
 */
export function safetensorsHeader(
  tensors: { name: string; dtype: DType; shape: number[] }[],
  metadata: Record<string, string>,
): Buffer {
  const h: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const t of tensors) {
    const n = numel(t.shape) * DTYPE_SIZE[t.dtype];
    h[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + n] };
    off += n;
  }
  const json = Buffer.from(JSON.stringify(h));
  const pad = (8 - (json.length % 8)) % 8;
  const out = Buffer.alloc(8 + json.length + pad, 0x20);
  out.writeBigUInt64LE(BigInt(json.length + pad), 0);
  json.copy(out, 8);
  return out;
}

/**
 * Sink: write tensor records as safetensors, sharded like transformers' `save_pretrained`
 * (`model-00001-of-0000N.safetensors` + `model.safetensors.index.json`, or one
 * `model.safetensors` when everything fits). Tensors are read one at a time; each file appears
 * atomically, the index last, and stale shards of an earlier run are removed.
 *
 * @example
 * await writeSafetensors('out/', readPth('iter_500.pth'), { maxShardSize: '2GB', dtype: 'BF16' });
 */
export async function writeSafetensors(
  dir: string,
  records: AsyncIterable<TensorRecord> | Iterable<TensorRecord>,
  options: WriteSafetensorsOptions = {},
): Promise<WrittenSafetensors> {
  const max = parseSize(options.maxShardSize ?? '2GB');
  const stem = options.stem ?? 'model';
  const metadata = { format: 'pt', ...options.metadata };
  const shardRe = new RegExp(
    `^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(-\\d{5}-of-\\d{5})?\\.safetensors(\\.index\\.json)?$`,
  );
  if (!options.replace && existsSync(dir)) {
    const present = readdirSync(dir).filter((f) => shardRe.test(f));
    if (present.length > 0) {
      throw new Error(
        `${dir} already holds ${present.slice(0, 3).join(', ')}${present.length > 3 ? ', ...' : ''}: write to an empty folder, or pass replace: true to replace them`,
      );
    }
  }
  const all: TensorRecord[] = [];
  const names = new Set<string>();
  for await (const t of records) {
    if (names.has(t.name))
      throw new Error(`tensor ${JSON.stringify(t.name)} appears twice; safetensors names must be unique`);
    names.add(t.name);
    all.push(t);
  }
  const size = (t: TensorRecord) => numel(t.shape) * DTYPE_SIZE[outDtype(t, options.dtype)];
  const shards: TensorRecord[][] = [];
  let cur: TensorRecord[] = [];
  let curSize = 0;
  for (const t of all) {
    const n = size(t);
    if (cur.length > 0 && curSize + n > max) {
      shards.push(cur);
      cur = [];
      curSize = 0;
    }
    cur.push(t);
    curSize += n;
  }
  if (cur.length > 0 || shards.length === 0) shards.push(cur);

  const pad5 = (i: number) => String(i).padStart(5, '0');
  const fileNames =
    shards.length === 1
      ? [`${stem}.safetensors`]
      : shards.map((_, i) => `${stem}-${pad5(i + 1)}-of-${pad5(shards.length)}.safetensors`);
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (let s = 0; s < shards.length; s++) {
    const ordered = shards[s]!.map((t) => ({ t, dtype: outDtype(t, options.dtype) })).sort(
      (a, b) =>
        DTYPE_ORDER.indexOf(b.dtype) - DTYPE_ORDER.indexOf(a.dtype) ||
        (a.t.name < b.t.name ? -1 : a.t.name > b.t.name ? 1 : 0),
    );
    const file = await AtomicFile.create(join(dir, fileNames[s]!));
    try {
      await file.write(
        safetensorsHeader(
          ordered.map(({ t, dtype }) => ({ name: t.name, dtype, shape: t.shape })),
          metadata,
        ),
      );
      for (const { t, dtype } of ordered) {
        let n = 0;
        if (t.stream) {
          // in chunks (a multiple of every element size), cast chunk by chunk: memory
          // stays at a few chunks whatever the tensor size; chunk k is written while chunk k+1
          // is read (the stream alternates two buffers)
          let pending: Promise<void> | undefined;
          for await (const chunk of t.stream(Math.max(8, Math.floor((options.chunkBytes ?? 16 << 20) / 8) * 8))) {
            const bytes = castBytes(chunk, t.dtype, dtype);
            await pending;
            pending = file.write(bytes);
            n += bytes.length;
          }
          await pending;
        } else {
          const raw = await t.read();
          if (raw.length !== t.nbytes) throw new Error(`${t.name}: read ${raw.length} bytes, expected ${t.nbytes}`);
          const bytes = castBytes(raw, t.dtype, dtype);
          await file.write(bytes);
          n = bytes.length;
        }
        if (n !== numel(t.shape) * DTYPE_SIZE[dtype])
          throw new Error(`${t.name}: wrote ${n} bytes, expected ${numel(t.shape) * DTYPE_SIZE[dtype]}`);
        weightMap[t.name] = fileNames[s]!;
        totalSize += n;
        options.onTensor?.(t, n);
      }
      await file.commit();
    } catch (e) {
      await file.abort();
      throw e;
    }
  }
  const keep = new Set([...fileNames, `${stem}.safetensors.index.json`]);
  for (const f of readdirSync(dir)) if (shardRe.test(f) && !keep.has(f)) rmSync(join(dir, f));
  const indexPath = join(dir, `${stem}.safetensors.index.json`);
  if (shards.length > 1) {
    const sortedMap = Object.fromEntries(
      Object.keys(weightMap)
        .sort()
        .map((k) => [k, weightMap[k]]),
    );
    await writeFileAtomic(
      indexPath,
      `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: sortedMap }, null, 2)}\n`,
    );
  } else rmSync(indexPath, { force: true });
  return { files: fileNames.map((f) => join(dir, f)), totalSize, tensors: all.length };
}
