import { readFile } from 'node:fs/promises';
import { DataError } from '@weft/core';

/** The element types weft reads from `.npy` files (little-endian or byte-sized). */
export type NpyDtype = '<i1' | '|i1' | '<u1' | '|u1' | '<i2' | '<u2' | '<i4' | '<u4' | '<i8' | '<u8' | '<f4' | '<f8';

/** Typed array for each dtype; 64-bit integers come as BigInt arrays. */
export type NpyData =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

/** A parsed `.npy` array. `data` is always row-major (C order), whatever order the file used. */
export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** True when the file stored the data in Fortran (column-major) order; `data` was transposed. */
  fortranOrder: boolean;
  data: NpyData;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

interface DtypeInfo {
  size: number;
  make: (buf: ArrayBuffer, off: number, n: number) => NpyData;
}
const DTYPES: Record<string, DtypeInfo> = {
  '|i1': { size: 1, make: (b, o, n) => new Int8Array(b, o, n) },
  '<i1': { size: 1, make: (b, o, n) => new Int8Array(b, o, n) },
  '|u1': { size: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
  '<u1': { size: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
  '<i2': { size: 2, make: (b, o, n) => new Int16Array(b, o, n) },
  '<u2': { size: 2, make: (b, o, n) => new Uint16Array(b, o, n) },
  '<i4': { size: 4, make: (b, o, n) => new Int32Array(b, o, n) },
  '<u4': { size: 4, make: (b, o, n) => new Uint32Array(b, o, n) },
  '<i8': { size: 8, make: (b, o, n) => new BigInt64Array(b, o, n) },
  '<u8': { size: 8, make: (b, o, n) => new BigUint64Array(b, o, n) },
  '<f4': { size: 4, make: (b, o, n) => new Float32Array(b, o, n) },
  '<f8': { size: 8, make: (b, o, n) => new Float64Array(b, o, n) },
};

/**
 * Parse the bytes of a numpy `.npy` file (format versions 1.0, 2.0 and 3.0).
 *
 * @example
 * const meta = parseNpy(await readFile('cn/a.bin.meta'), 'cn/a.bin.meta');
 * meta.shape; // [1207, 2]
 */
export function parseNpy(bytes: Uint8Array, file: string): NpyArray {
  const bad = (detail: string, offset?: number): DataError =>
    new DataError(detail, offset === undefined ? { file } : { file, offset }, { reason: 'bad-npy' });
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m))
    throw bad('not a .npy file (missing \\x93NUMPY magic)', 0);
  const major = bytes[6]!,
    minor = bytes[7]!;
  let headerLen: number, headerStart: number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw bad('truncated .npy header', 8);
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw bad(`unsupported .npy format version ${major}.${minor}`, 6);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length)
    throw bad(`truncated .npy header: needs ${dataStart} bytes, file has ${bytes.length}`, headerStart);
  // Version 3.0 only differs by allowing UTF-8 in the header; 1.0/2.0 are latin-1 (ASCII in practice).
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  const dict = parseHeaderDict(header, (d) => bad(d, headerStart));

  const descr = dict.descr;
  if (typeof descr !== 'string')
    throw bad(`.npy header: 'descr' must be a simple dtype string, got ${JSON.stringify(descr)}`, headerStart);
  const info = DTYPES[descr];
  if (info === undefined)
    throw bad(`.npy dtype ${descr} is not supported (supported: ${Object.keys(DTYPES).join(', ')})`, headerStart);
  if (typeof dict.fortran_order !== 'boolean')
    throw bad(".npy header: 'fortran_order' must be True or False", headerStart);
  const rawShape = dict.shape;
  if (!Array.isArray(rawShape) || !rawShape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0))
    throw bad(".npy header: 'shape' must be a tuple of non-negative integers", headerStart);
  const shape = rawShape as number[];
  const count = shape.reduce((a, b) => a * b, 1);
  const need = count * info.size;
  if (bytes.length - dataStart < need) {
    throw bad(
      `truncated .npy data: shape (${shape.join(', ')}) of ${descr} needs ${need} bytes after the header, file has ${bytes.length - dataStart}`,
      dataStart,
    );
  }
  if (bytes.length - dataStart > need)
    throw bad(`.npy file has ${bytes.length - dataStart - need} bytes after the array data`, dataStart + need);
  // Copy into a fresh, aligned buffer: the data offset inside `bytes` need not be aligned.
  const own = new ArrayBuffer(need);
  new Uint8Array(own).set(bytes.subarray(dataStart, dataStart + need));
  let data = info.make(own, 0, count);
  if (dict.fortran_order && shape.length > 1) data = fortranToC(data, shape);
  return { dtype: descr as NpyDtype, shape, fortranOrder: dict.fortran_order, data };
}

/** Read and parse a `.npy` file. */
export async function readNpy(path: string): Promise<NpyArray> {
  return parseNpy(await readFile(path), path);
}

/** Reorder column-major data into row-major. */
function fortranToC(src: NpyData, shape: number[]): NpyData {
  const n = src.length;
  const out = new (src.constructor as new (n: number) => NpyData)(n);
  const nd = shape.length;
  // Strides of the Fortran layout: first axis varies fastest.
  const fstride: number[] = new Array(nd);
  let s = 1;
  for (let k = 0; k < nd; k++) {
    fstride[k] = s;
    s *= shape[k]!;
  }
  const idx = new Array<number>(nd).fill(0);
  for (let i = 0; i < n; i++) {
    let f = 0;
    for (let k = 0; k < nd; k++) f += idx[k]! * fstride[k]!;
    (out as Int32Array)[i] = (src as Int32Array)[f]!;
    for (let k = nd - 1; k >= 0; k--) {
      if (++idx[k]! < shape[k]!) break;
      idx[k] = 0;
    }
  }
  return out;
}

type PyValue = string | boolean | number | null | PyValue[] | { [k: string]: PyValue };

/**
 * A small parser for the Python literal numpy writes as the header: a dict of strings, booleans,
 * integers and tuples. Never `eval`: the header comes from the file.
 */
function parseHeaderDict(
  text: string,
  bad: (detail: string) => DataError,
): { descr?: PyValue; fortran_order?: PyValue; shape?: PyValue } {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const value = (): PyValue => {
    ws();
    const c = text[i];
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) throw bad('.npy header: unterminated string');
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const items: PyValue[] = [];
      for (;;) {
        ws();
        if (text[i] === close) {
          i++;
          return items;
        }
        items.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== close) throw bad(`.npy header: expected ',' or '${close}' at ${i}`);
      }
    }
    if (c === '{') {
      i++;
      const obj: { [k: string]: PyValue } = {};
      for (;;) {
        ws();
        if (text[i] === '}') {
          i++;
          return obj;
        }
        const k = value();
        if (typeof k !== 'string') throw bad('.npy header: dict keys must be strings');
        ws();
        if (text[i] !== ':') throw bad(`.npy header: expected ':' at ${i}`);
        i++;
        obj[k] = value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== '}') throw bad(`.npy header: expected ',' or '}' at ${i}`);
      }
    }
    const m = /^(True|False|None|-?\d+L?)/.exec(text.slice(i, i + 32));
    if (m === null) throw bad(`.npy header: unexpected text at ${i}: ${JSON.stringify(text.slice(i, i + 20))}`);
    i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    return Number(m[0].replace('L', ''));
  };
  const v = value();
  ws();
  if (i !== text.length) throw bad('.npy header: trailing text after the dict');
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad('.npy header is not a dict');
  return v;
}

/** Digits numpy reserves after the dict so the first axis can grow in place (`GROWTH_AXIS_MAX_DIGITS`). */
const GROWTH_AXIS_MAX_DIGITS = 21;
const ARRAY_ALIGN = 64;

/**
 * Encode an array as a `.npy` file byte-identical to `numpy.save` (format 1.0, C order, header
 * padded with spaces and a newline so the data starts on a 64-byte boundary).
 *
 * @example
 * const meta = new Int32Array([0, 3, 22, 5]); // offsets and token counts of two lines
 * await writeFileAtomic('a.bin.meta', encodeNpy(meta, [2, 2], '<i4'));
 */
export function encodeNpy(
  data: Int32Array | BigInt64Array,
  shape: readonly number[],
  dtype?: '<i4' | '<i8',
): Uint8Array {
  const d = dtype ?? (data instanceof Int32Array ? '<i4' : '<i8');
  if ((d === '<i4') !== data instanceof Int32Array)
    throw new TypeError(`encodeNpy: dtype ${d} does not match a ${data.constructor.name}`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (!shape.every((x) => Number.isSafeInteger(x) && x >= 0) || count !== data.length) {
    throw new RangeError(`encodeNpy: shape (${shape.join(', ')}) does not hold ${data.length} elements`);
  }
  // Python's repr of a tuple: "(3,)" for one axis, "(3, 2)" otherwise.
  const shapeRepr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${d}', 'fortran_order': False, 'shape': ${shapeRepr}, }`;
  if (shape.length > 0) header += ' '.repeat(GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length);
  let prefix = 10;
  let padded = header + ' '.repeat(ARRAY_ALIGN - ((prefix + header.length + 1) % ARRAY_ALIGN)) + '\n';
  let major = 1;
  if (padded.length > 0xffff) {
    major = 2;
    prefix = 12;
    padded = header + ' '.repeat(ARRAY_ALIGN - ((prefix + header.length + 1) % ARRAY_ALIGN)) + '\n';
  }
  const out = new Uint8Array(prefix + padded.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, padded.length, true);
  else view.setUint32(8, padded.length, true);
  for (let k = 0; k < padded.length; k++) out[prefix + k] = padded.charCodeAt(k);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), prefix + padded.length);
  return out;
}
