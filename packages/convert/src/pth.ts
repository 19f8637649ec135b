import { DataError } from '@weft/core';
import { PyGlobal, unpickle, type PickleHandlers } from './pickle.ts';
import { DTYPE_SIZE, numel, readRange, streamRange, type DType, type TensorRecord } from './tensor.ts';
import { ZipArchive, looksLikeZip, type ZipEntry } from './zip.ts';

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'F32',
  DoubleStorage: 'F64',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
  UntypedStorage: 'U8',
};
/** torch dtypes by their attribute name (`torch.float32`), as pickles name them. */
export const TORCH_DTYPES: Record<string, DType> = {
  float32: 'F32',
  float: 'F32',
  float64: 'F64',
  double: 'F64',
  float16: 'F16',
  half: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  long: 'I64',
  int32: 'I32',
  int: 'I32',
  int16: 'I16',
  short: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};

/** A storage of a torch.save zip: one `data/<key>` entry, read by offset. */
export class TorchStorage {
  constructor(
    readonly archive: ZipArchive,
    readonly entry: ZipEntry,
    readonly dtype: DType,
    readonly numel: number,
    readonly key: string,
  ) {}
}

/** A tensor as `_rebuild_tensor_v2` describes it: a view (offset, shape, strides) into a storage. */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly storageOffset: number,
    readonly shape: number[],
    readonly strides: number[],
  ) {}

  get dtype(): DType {
    return this.storage.dtype;
  }

  get nbytes(): number {
    return numel(this.shape) * DTYPE_SIZE[this.dtype];
  }

  get contiguous(): boolean {
    let expect = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== expect) return false;
      expect *= this.shape[i]!;
    }
    return true;
  }

  /** The view's bytes in C order; a non-contiguous view reads the storage span it touches and gathers. */
  read(): Uint8Array {
    const size = DTYPE_SIZE[this.dtype];
    const { archive, entry } = this.storage;
    const base = archive.storedOffset(entry);
    const n = numel(this.shape);
    if (n === 0) return new Uint8Array(0);
    if (this.contiguous) return readRange(archive.file, base + this.storageOffset * size, n * size);
    let span = 1;
    for (let i = 0; i < this.shape.length; i++) span += (this.shape[i]! - 1) * this.strides[i]!;
    const src = readRange(archive.file, base + this.storageOffset * size, span * size);
    return gather(src, this.shape, this.strides, size);
  }

  /** As a tensor record named `name`. */
  record(name: string): TensorRecord {
    const offset = this.storage.archive.storedOffset(this.storage.entry) + this.storageOffset * DTYPE_SIZE[this.dtype];
    const rec: TensorRecord = {
      name,
      dtype: this.dtype,
      shape: this.shape,
      strides: this.strides,
      nbytes: this.nbytes,
      source: { file: this.storage.archive.file, offset },
      read: async () => this.read(),
    };
    if (this.contiguous)
      rec.stream = (chunk?: number) => streamRange(this.storage.archive.file, offset, this.nbytes, chunk);
    return rec;
  }
}

/**
 * Copy a strided view into C order. Elements move as whole words (1/2/4 bytes, or two 4-byte
 * halves), so NaN payloads are never touched; a unit innermost stride copies rows at once.
 */
export function gather(src: Uint8Array, shape: number[], strides: number[], size: number): Uint8Array {
  const n = numel(shape);
  const out = new Uint8Array(n * size);
  const nd = shape.length;
  const inner = shape[nd - 1]!,
    innerStride = strides[nd - 1]!;
  const rows = n / inner;
  const s = src.byteOffset % 4 === 0 ? src : new Uint8Array(src);
  const words = size === 8 ? 2 : 1;
  const W = size === 1 ? Uint8Array : size === 2 ? Uint16Array : Uint32Array;
  const sv = new W(
    s.buffer as ArrayBuffer,
    s.byteOffset,
    Math.floor(s.byteLength / (size === 1 ? 1 : size === 2 ? 2 : 4)),
  );
  const ov = new W(out.buffer, 0, (n * size) / (size === 1 ? 1 : size === 2 ? 2 : 4));
  const idx = new Array<number>(nd).fill(0);
  let rowStart = 0; // element offset of the current row in src
  for (let r = 0, o = 0; r < rows; r++) {
    if (innerStride === 1) {
      ov.set(sv.subarray(rowStart * words, (rowStart + inner) * words), o);
      o += inner * words;
    } else if (words === 1) {
      for (let i = 0, e = rowStart; i < inner; i++, e += innerStride) ov[o++] = sv[e]!;
    } else {
      for (let i = 0, e = rowStart * 2; i < inner; i++, e += innerStride * 2) {
        ov[o++] = sv[e]!;
        ov[o++] = sv[e + 1]!;
      }
    }
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]!++;
      rowStart += strides[d]!;
      if (idx[d]! < shape[d]!) break;
      rowStart -= idx[d]! * strides[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

/** A parsed torch.save file: the unpickled object tree, whose tensors read their bytes lazily. */
export interface TorchFile {
  file: string;
  value: unknown;
}

const isIntList = (x: unknown): x is number[] =>
  Array.isArray(x) && x.every((d) => Number.isSafeInteger(d) && (d as number) >= 0);

/**
 * Open a `torch.save` checkpoint (the zip format of PyTorch ≥ 1.6) without executing its pickle:
 * tensors become {@link TorchTensor} views, anything not on the allowlist an inert PyObject.
 *
 * @example
 * const { value } = readTorchFile('iter_500.pth');
 * for (const t of stateDictTensors(value)) console.log(t.name, t.shape);
 */
export function readTorchFile(file: string, window?: { offset: number; length: number }): TorchFile {
  if (window) return readTorchArchive(ZipArchive.open(file, window), `${file}@${window.offset}`);
  if (!looksLikeZip(file)) {
    const head = readRange(file, 0, 1);
    if (head[0] === 0x80)
      throw new DataError(
        'this is a legacy (pre-1.6, non-zip) torch.save file, which weft does not read; re-save it with PyTorch ≥ 1.6: torch.save(torch.load(f), f2)',
        { file, offset: 0 },
        { reason: 'legacy-format' },
      );
    throw new DataError(
      'not a PyTorch checkpoint: expected a zip (torch.save format of PyTorch ≥ 1.6)',
      { file, offset: 0 },
      { reason: 'not-zip' },
    );
  }
  return readTorchArchive(ZipArchive.open(file), file);
}

function readTorchArchive(archive: ZipArchive, file: string): TorchFile {
  const pklName = [...archive.entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pklName)
    throw new DataError(
      'zip has no <archive>/data.pkl: not a torch.save checkpoint',
      { file },
      { reason: 'not-torch' },
    );
  const prefix = pklName.slice(0, -'data.pkl'.length);
  const pklFile = `${file}:${pklName}`;
  const storages = new Map<string, TorchStorage>();
  const bad = (detail: string, at: number): never => {
    throw new DataError(detail, { file: pklFile, offset: at }, { reason: 'bad-tensor' });
  };

  const persistentLoad = (pid: unknown, at: number): TorchStorage => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5)
      bad('unknown persistent id (expected ("storage", type, key, location, numel))', at);
    const [, type, key, , count] = pid as unknown[];
    const dtype =
      type instanceof PyGlobal && type.module === 'torch'
        ? (STORAGE_DTYPES[type.name] ?? TORCH_DTYPES[type.name])
        : undefined;
    if (!dtype) bad(`unsupported storage type ${type instanceof PyGlobal ? type.qualname : String(type)}`, at);
    if (typeof key !== 'string' || !Number.isSafeInteger(count) || (count as number) < 0)
      bad('bad storage key or size', at);
    const k = key as string;
    let s = storages.get(k);
    if (!s) {
      const entry = archive.entries.get(`${prefix}data/${k}`);
      if (!entry) bad(`storage ${k} has no zip entry ${prefix}data/${k}`, at);
      const bytes = (count as number) * DTYPE_SIZE[dtype!];
      if (entry!.size < bytes) bad(`storage ${k} needs ${bytes} bytes but its zip entry holds ${entry!.size}`, at);
      s = new TorchStorage(archive, entry!, dtype!, count as number, k);
      storages.set(k, s);
    }
    return s;
  };

  const rebuild = (a: unknown[], at: number): TorchTensor => {
    const [storage, offset, shape, stride] = a;
    if (!(storage instanceof TorchStorage)) bad('tensor without a storage', at);
    if (
      !Number.isSafeInteger(offset) ||
      (offset as number) < 0 ||
      !isIntList(shape) ||
      !isIntList(stride) ||
      shape.length !== stride.length
    )
      bad('tensor with bad offset, size or stride', at);
    const st = storage as TorchStorage;
    const sh = shape as number[],
      sd = stride as number[];
    if (numel(sh) > st.numel)
      bad(
        `tensor of ${numel(sh)} elements over a storage of ${st.numel}: expanded (overlapping) views are not supported; save tensor.contiguous() instead`,
        at,
      );
    if (numel(sh) > 0) {
      let last = offset as number;
      for (let i = 0; i < sh.length; i++) last += (sh[i]! - 1) * sd[i]!;
      if (last >= st.numel)
        bad(
          `tensor view [offset ${offset}, size ${JSON.stringify(sh)}, stride ${JSON.stringify(sd)}] reaches past its storage of ${st.numel} elements`,
          at,
        );
    }
    return new TorchTensor(st, offset as number, sh, sd);
  };
  const handlers: PickleHandlers = {
    'torch._utils._rebuild_tensor_v2': rebuild,
    'torch._utils._rebuild_tensor': rebuild,
    'torch._utils._rebuild_parameter': (a) => a[0],
    'torch._utils._rebuild_parameter_with_state': (a) => a[0],
    'torch._tensor._rebuild_from_type_v2': (a, at) => {
      const [fn, , args] = a;
      const h = fn instanceof PyGlobal && Object.hasOwn(handlers, fn.qualname) ? handlers[fn.qualname] : undefined;
      return h && Array.isArray(args) ? h(args, at) : a;
    },
    'torch.Size': (a) => a[0],
    'torch.device': (a) => ({ device: a.join(':') }),
  };
  const value = unpickle(archive.read(archive.entries.get(pklName)!), { file: pklFile, handlers, persistentLoad });
  return { file, value };
}
