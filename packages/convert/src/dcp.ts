import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { DataError, type Reason } from '@weft/core';
import { PyGlobal, PyObject, unpickle } from './pickle.ts';
import { readTorchFile, TorchTensor, TORCH_DTYPES } from './pth.ts';
import { DTYPE_SIZE, numel, readRange, type DType, type TensorRecord } from './tensor.ts';

// The classes a DCP `.metadata` pickle may name (torch/distributed/checkpoint/metadata.py,
// filesystem.py). None is ever called: each stays an inert PyObject and is read back as plain
// data below; any other class makes the file refused.
const META = 'torch.distributed.checkpoint.metadata';
const ALLOWED = new Set([
  `${META}.Metadata`,
  `${META}.TensorStorageMetadata`,
  `${META}.BytesStorageMetadata`,
  `${META}.ChunkStorageMetadata`,
  `${META}.MetadataIndex`,
  `${META}.TensorProperties`,
  `${META}._MEM_FORMAT_ENCODING`,
  `${META}.StorageMeta`,
  'torch.distributed._shard.sharded_tensor.metadata.TensorProperties',
  'torch.distributed._shard.sharded_tensor.metadata.MEM_FORMAT_ENCODING',
  'torch.distributed.checkpoint.filesystem._StorageInfo',
  // TensorProperties.layout: torch.strided pickles as a call of this with its name
  'torch.serialization._get_layout',
  // StorageMeta.checkpoint_id is the writer's pathlib.Path
  'pathlib.PosixPath',
  'pathlib._local.PosixPath',
  'pathlib.WindowsPath',
  'pathlib._local.WindowsPath',
]);
const ALLOWED_GLOBALS = /^torch\.([a-z0-9_]+|strided|sparse_coo|contiguous_format|channels_last|preserve_format)$/;

/** One stored piece of a tensor: its place in the whole tensor and where its bytes are. */
interface Chunk {
  offsets: number[];
  sizes: number[];
  file: string;
  offset: number;
  length: number;
}

/** What a DCP folder holds, as plain data. */
export interface DcpIndex {
  tensors: { fqn: string; dtype: DType; shape: number[]; chunks: Chunk[] }[];
  /** Entries that are not tensors (pickled bytes: e.g. the optimizer's param_groups). */
  bytes: string[];
}

/** True when `dir` is a torch.distributed.checkpoint folder (it has a `.metadata` file). */
export function isDcpDir(dir: string): boolean {
  return statSync(dir).isDirectory() && existsSync(join(dir, '.metadata'));
}

const fieldsOf = (o: PyObject, file: string, names: string[]): Map<unknown, unknown> => {
  // a dataclass pickles as NEWOBJ + BUILD(__dict__); frozen ones too
  if (o.state instanceof Map) return o.state;
  if (Array.isArray(o.state) && o.state.length === 2 && o.state[0] === null && o.state[1] instanceof Map)
    return o.state[1] as Map<unknown, unknown>; // (None, slots)
  throw new DataError(
    `.metadata: ${o.qualname} without its fields (expected ${names.join(', ')})`,
    { file },
    { reason: 'bad-dcp' },
  );
};

/**
 * Parse a DCP `.metadata` (a pickle of `Metadata`) without running it: every class must be one of
 * DCP's own metadata classes, read back as plain data; any other is refused by name.
 *
 * @example
 * const index = readDcpIndex('work_dirs/iter_500.dcp');
 */
export function readDcpIndex(dir: string): DcpIndex {
  const file = join(dir, '.metadata');
  const bad = (detail: string, reason: Reason = 'bad-dcp'): never => {
    throw new DataError(`.metadata: ${detail}`, { file }, { reason });
  };
  const value = unpickle(readFileSync(file), { file, handlers: { 'torch.Size': (a) => a[0] } });
  // Refuse anything outside the allowlist, wherever it sits (nothing was executed either way).
  const seen = new Set<unknown>();
  const walk = (v: unknown, depth: number): void => {
    if (depth > 64) bad('nested deeper than 64 levels');
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (v instanceof PyGlobal) {
      if (!ALLOWED_GLOBALS.test(v.qualname))
        bad(`names ${v.qualname}, which a DCP checkpoint never holds: refusing a hostile or foreign file`, 'hostile');
      return;
    }
    if (v instanceof PyObject) {
      if (!ALLOWED.has(v.qualname))
        bad(
          `holds a ${v.qualname} object, which a DCP checkpoint never holds: refusing a hostile or foreign file (nothing was executed)`,
          'hostile',
        );
      walk(v.args, depth + 1);
      walk(v.state, depth + 1);
      return;
    }
    if (v instanceof Map)
      for (const [k, x] of v) {
        walk(k, depth + 1);
        walk(x, depth + 1);
      }
    else if (Array.isArray(v) || v instanceof Set) for (const x of v) walk(x, depth + 1);
  };
  walk(value, 0);
  if (!(value instanceof PyObject) || value.qualname !== `${META}.Metadata`)
    bad(`top level is ${value instanceof PyObject ? value.qualname : typeof value}, not ${META}.Metadata`);
  const md = fieldsOf(value as PyObject, file, ['state_dict_metadata', 'storage_data']);
  const sdm = md.get('state_dict_metadata');
  const storage = md.get('storage_data');
  if (!(sdm instanceof Map)) bad('state_dict_metadata is not a dict');
  if (!(storage instanceof Map)) bad('storage_data is not a dict (was the checkpoint written by FileSystemWriter?)');

  const ints = (x: unknown, what: string): number[] => {
    if (!Array.isArray(x) || !x.every((d) => Number.isSafeInteger(d) && (d as number) >= 0))
      bad(`${what} is not a list of sizes`);
    return x as number[];
  };
  // storage_data: MetadataIndex(fqn, offset) -> _StorageInfo(relative_path, offset, length)
  const where = new Map<string, { file: string; offset: number; length: number }>();
  const root = resolve(dir);
  for (const [k, v] of storage as Map<unknown, unknown>) {
    if (
      !(k instanceof PyObject) ||
      k.qualname !== `${META}.MetadataIndex` ||
      !(v instanceof PyObject) ||
      !v.qualname.endsWith('._StorageInfo')
    )
      bad('storage_data entry is not MetadataIndex -> _StorageInfo');
    const key = fieldsOf(k as PyObject, file, ['fqn', 'offset']);
    const info = fieldsOf(v as PyObject, file, ['relative_path', 'offset', 'length']);
    const fqn = key.get('fqn'),
      rel = info.get('relative_path'),
      off = info.get('offset'),
      len = info.get('length');
    const td = info.get('transform_descriptors');
    if (typeof fqn !== 'string' || typeof rel !== 'string') bad('storage_data entry without fqn or relative_path');
    if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || (off as number) < 0 || (len as number) < 0)
      bad(`storage of ${fqn}: bad offset or length`);
    if (Array.isArray(td) && td.length > 0)
      bad(
        `storage of ${fqn} is transformed (${td.join(', ')}: compressed or encrypted), which weft does not read; save without storage transforms`,
        'unsupported',
      );
    const path = resolve(root, rel as string);
    if (relative(root, path).startsWith('..') || (rel as string).includes('\0'))
      bad(
        `storage of ${fqn} points outside the checkpoint folder (${JSON.stringify(rel)}): refusing a hostile file`,
        'hostile',
      );
    const at = key.get('offset');
    where.set(`${fqn as string}|${at == null ? '' : ints(at, `offset of ${fqn}`).join(',')}`, {
      file: path,
      offset: off as number,
      length: len as number,
    });
  }

  const out: DcpIndex = { tensors: [], bytes: [] };
  for (const [k, m] of sdm as Map<unknown, unknown>) {
    const fqn = String(k);
    if (m instanceof PyObject && m.qualname === `${META}.BytesStorageMetadata`) {
      out.bytes.push(fqn);
      continue;
    }
    if (!(m instanceof PyObject) || m.qualname !== `${META}.TensorStorageMetadata`)
      bad(`entry ${fqn} is neither tensor nor bytes metadata`);
    const f = fieldsOf(m as PyObject, file, ['properties', 'size', 'chunks']);
    const shape = ints(f.get('size'), `size of ${fqn}`);
    const props = f.get('properties');
    if (!(props instanceof PyObject)) bad(`${fqn}: no tensor properties`);
    // TensorProperties pickles its fields as a tuple (dtype first: __getstate__) or, older, as a dict
    const st = (props as PyObject).state;
    const dt = Array.isArray(st) ? st[0] : st instanceof Map ? st.get('dtype') : undefined;
    const dtype = dt instanceof PyGlobal && dt.module === 'torch' ? TORCH_DTYPES[dt.name] : undefined;
    if (!dtype) bad(`${fqn}: unsupported dtype ${dt instanceof PyGlobal ? dt.qualname : String(dt)}`, 'unsupported');
    const chunksRaw = f.get('chunks');
    if (!Array.isArray(chunksRaw)) bad(`${fqn}: chunks is not a list`);
    const chunks: Chunk[] = [];
    let covered = 0;
    for (const c of chunksRaw as unknown[]) {
      if (!(c instanceof PyObject) || c.qualname !== `${META}.ChunkStorageMetadata`)
        bad(`${fqn}: chunk is not ChunkStorageMetadata`);
      const cf = fieldsOf(c as PyObject, file, ['offsets', 'sizes']);
      const offsets = ints(cf.get('offsets'), `${fqn} chunk offsets`),
        sizes = ints(cf.get('sizes'), `${fqn} chunk sizes`);
      if (
        offsets.length !== shape.length ||
        sizes.length !== shape.length ||
        offsets.some((o, i) => o + sizes[i]! > shape[i]!)
      ) {
        bad(
          `${fqn}: chunk at ${JSON.stringify(offsets)} of ${JSON.stringify(sizes)} lies outside the tensor ${JSON.stringify(shape)}`,
        );
      }
      const s = where.get(`${fqn}|${offsets.join(',')}`);
      if (!s)
        bad(`${fqn}: no storage_data entry for the chunk at ${JSON.stringify(offsets)} (was a rank's file lost?)`);
      chunks.push({ offsets, sizes, ...s! });
      covered += numel(sizes);
    }
    // chunks must tile the tensor: in bounds (above), disjoint, and adding up to it
    for (let i = 0; i < chunks.length; i++) {
      for (let j = i + 1; j < chunks.length; j++) {
        const a = chunks[i]!,
          b = chunks[j]!;
        if (
          numel(a.sizes) > 0 &&
          numel(b.sizes) > 0 &&
          a.offsets.every((o, d) => o < b.offsets[d]! + b.sizes[d]! && b.offsets[d]! < o + a.sizes[d]!)
        )
          bad(`${fqn}: chunks at ${JSON.stringify(a.offsets)} and ${JSON.stringify(b.offsets)} overlap`);
      }
    }
    if (covered !== numel(shape))
      bad(`${fqn}: its chunks hold ${covered} of ${numel(shape)} elements (was a rank's shard not saved?)`);
    out.tensors.push({ fqn, dtype: dtype!, shape, chunks });
  }
  return out;
}

/** One chunk's bytes, C order: a torch.save blob (FileSystemWriter's default) or raw bytes. */
function readChunk(fqn: string, dtype: DType, c: Chunk): Uint8Array {
  const want = numel(c.sizes) * DTYPE_SIZE[dtype];
  if (!existsSync(c.file))
    throw new DataError(
      `${fqn}: storage file is missing (was a rank's file lost?)`,
      { file: c.file },
      { reason: 'truncated' },
    );
  const size = statSync(c.file).size;
  if (c.offset + c.length > size)
    throw new DataError(
      `${fqn}: ${c.length} bytes at ${c.offset} run past the end of the ${size}-byte file (truncated?)`,
      { file: c.file, offset: c.offset },
      { reason: 'truncated' },
    );
  const head = readRange(c.file, c.offset, Math.min(4, c.length));
  if (head.length === 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 3 && head[3] === 4) {
    const t = readTorchFile(c.file, { offset: c.offset, length: c.length }).value;
    if (!(t instanceof TorchTensor))
      throw new DataError(
        `${fqn}: the stored item is not a tensor`,
        { file: c.file, offset: c.offset },
        { reason: 'bad-dcp' },
      );
    if (t.dtype !== dtype || t.shape.length !== c.sizes.length || t.shape.some((d, i) => d !== c.sizes[i])) {
      throw new DataError(
        `${fqn}: stored chunk is ${t.dtype}${JSON.stringify(t.shape)}, the metadata says ${dtype}${JSON.stringify(c.sizes)}`,
        { file: c.file, offset: c.offset },
        { reason: 'bad-dcp' },
      );
    }
    return t.read();
  }
  if (c.length !== want)
    throw new DataError(
      `${fqn}: raw chunk of ${c.length} bytes, expected ${want} (${dtype}${JSON.stringify(c.sizes)})`,
      { file: c.file, offset: c.offset },
      { reason: 'bad-dcp' },
    );
  return readRange(c.file, c.offset, c.length);
}

/** Copy a chunk (C order) into the whole tensor's bytes at its offsets. */
function place(out: Uint8Array, shape: number[], c: Chunk, bytes: Uint8Array, size: number): void {
  const nd = shape.length;
  if (nd === 0) {
    out.set(bytes);
    return;
  }
  const rowLen = c.sizes[nd - 1]! * size;
  const rows = numel(c.sizes.slice(0, -1));
  const idx = new Array<number>(nd - 1).fill(0);
  for (let r = 0; r < rows; r++) {
    let at = 0;
    for (let d = 0; d < nd; d++) at = at * shape[d]! + c.offsets[d]! + (d < nd - 1 ? idx[d]! : 0);
    out.set(bytes.subarray(r * rowLen, (r + 1) * rowLen), at * size);
    for (let d = nd - 2; d >= 0; d--) {
      if (++idx[d]! < c.sizes[d]!) break;
      idx[d] = 0;
    }
  }
}

/**
 * A torch.distributed.checkpoint folder (what FSDP2 runs save, one file per rank) as tensor records,
 * read lazily. Only the model is kept: entries under `model.` (weft's layout; the optimizer under
 * `optim.` is skipped), named by `weft_keys.json` when the folder has one (the worker writes it:
 * its key -> the HF key). A tensor split along its first dimension (FSDP2's sharding) streams chunk
 * by chunk, so memory stays at about one shard; any other split is assembled whole.
 *
 * @example
 * const { tensors } = dcpRecords('work_dirs/iter_500.dcp');
 */
export function dcpRecords(dir: string): { tensors: TensorRecord[]; skipped: string[] } {
  const index = readDcpIndex(dir);
  const keysFile = join(dir, 'weft_keys.json');
  let keys: Record<string, string> | undefined;
  if (existsSync(keysFile)) {
    try {
      keys = JSON.parse(readFileSync(keysFile, 'utf8')) as Record<string, string>;
    } catch (e) {
      throw new DataError(`not valid JSON: ${(e as Error).message}`, { file: keysFile }, { reason: 'bad-dcp' });
    }
  }
  const why = keys?.['__weft_unconvertible__'];
  if (why !== undefined)
    throw new DataError(
      `this sharded checkpoint cannot be converted: ${why}`,
      { file: keysFile },
      { reason: 'unsupported' },
    );
  const hasModel = index.tensors.some((t) => t.fqn.startsWith('model.'));
  const tensors: TensorRecord[] = [];
  const skipped = [...index.bytes];
  for (const t of index.tensors) {
    if (hasModel && !t.fqn.startsWith('model.')) {
      skipped.push(t.fqn);
      continue;
    }
    const ours = hasModel ? t.fqn.slice('model.'.length) : t.fqn;
    const name = keys ? keys[ours] : ours;
    if (name === undefined) {
      skipped.push(t.fqn);
      continue;
    }
    const size = DTYPE_SIZE[t.dtype];
    const nbytes = numel(t.shape) * size;
    const chunks = [...t.chunks].sort((a, b) => (a.offsets[0] ?? 0) - (b.offsets[0] ?? 0));
    // split along dim 0 only: each chunk is a contiguous run of the whole tensor, in order
    const rowsOnly =
      t.shape.length > 0 &&
      chunks.every(
        (c) => c.offsets.every((o, d) => d === 0 || o === 0) && c.sizes.every((s, d) => d === 0 || s === t.shape[d]),
      );
    const rec: TensorRecord = {
      name,
      dtype: t.dtype,
      shape: t.shape,
      nbytes,
      source: { file: chunks[0]?.file ?? dir, offset: chunks[0]?.offset ?? 0 },
      read: async () => {
        const out = new Uint8Array(nbytes);
        for (const c of chunks) place(out, t.shape, c, readChunk(t.fqn, t.dtype, c), size);
        return out;
      },
    };
    if (rowsOnly) {
      rec.stream = async function* () {
        for (const c of chunks) if (numel(c.sizes) > 0) yield readChunk(t.fqn, t.dtype, c);
      };
    }
    tensors.push(rec);
  }
  if (keys && tensors.length === 0)
    throw new DataError(
      `no tensor of the checkpoint is named in weft_keys.json`,
      { file: keysFile },
      { reason: 'no-state-dict' },
    );
  return { tensors, skipped };
}

/** The `.distcp` files of a DCP folder (for messages). */
export function dcpFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.distcp'))
    .sort()
    .map((f) => join(dir, f));
}
