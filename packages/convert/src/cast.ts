import type { DType } from './tensor.ts';

/** Float dtypes a converter may cast between; integer tensors always keep their dtype. */
export const CASTABLE: ReadonlySet<DType> = new Set(['F32', 'F16', 'BF16', 'F64']);

function aligned(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset % 8 === 0 ? bytes : new Uint8Array(bytes);
}

/**
 * fp32 bits → bf16 bits, round to nearest even. NaN becomes `nan`: torch's vectorised CPU
 * path (fp32/fp64 → bf16) writes 0xFFFF, its scalar path (fp16 → bf16) 0x7FC0.
 */
export function f32BitsToBf16(bits: number, nan = 0xffff): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return nan;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** fp32 bits → fp16 bits, round to nearest even with subnormals; NaN keeps its sign and becomes 0x7E00, as torch's c10::Half does. */
export function f32BitsToF16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | (mant ? 0x7e00 : 0x7c00);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // a carry into the exponent is still right (up to inf)
  return sign | half;
}

/** fp16 bits → fp32 bits (exact). */
export function f16BitsToF32(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp === 0) {
    if (mant === 0) return sign >>> 0;
    let e = -1;
    do {
      mant <<= 1;
      e++;
    } while ((mant & 0x400) === 0);
    return (sign | ((127 - 15 - e) << 23) | ((mant & 0x3ff) << 13)) >>> 0;
  }
  return (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
}

// A 2-byte source has only 65536 values: cast through lookup tables built on first use.
const tables = new Map<string, Uint16Array | Uint32Array>();
function table(from: 'BF16' | 'F16', to: DType): Uint16Array | Uint32Array {
  const key = `${from}>${to}`;
  let t = tables.get(key);
  if (!t) {
    const f32 = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f32[h] = from === 'BF16' ? (h << 16) >>> 0 : f16BitsToF32(h);
    if (to === 'F32') t = f32;
    else {
      const nan = from === 'F16' ? 0x7fc0 : 0xffff;
      t = new Uint16Array(65536);
      for (let h = 0; h < 65536; h++) t[h] = to === 'BF16' ? f32BitsToBf16(f32[h]!, nan) : f32BitsToF16(f32[h]!);
    }
    tables.set(key, t);
  }
  return t;
}

/** The tensor's values as fp32 bits. */
function toF32Bits(bytes: Uint8Array, from: DType): Uint32Array {
  const b = aligned(bytes);
  if (from === 'F32') return new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  if (from === 'F64') {
    const src = new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
    return new Uint32Array(Float32Array.from(src).buffer); // double → float rounds to nearest even, like torch's first step
  }
  const src = new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
  const lut = table(from as 'BF16' | 'F16', 'F32');
  const out = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = lut[src[i]!]!;
  return out;
}

/**
 * Cast a float tensor's bytes between F64/F32/BF16/F16 the way torch's `.to(dtype)` does
 * (round to nearest even, NaNs as torch's CPU kernels write them). Same dtype returns the input.
 *
 * @example
 * const bf16 = castBytes(f32bytes, 'F32', 'BF16');
 */
export function castBytes(bytes: Uint8Array, from: DType, to: DType): Uint8Array {
  if (from === to) return bytes;
  if (!CASTABLE.has(from) || !CASTABLE.has(to))
    throw new Error(`cannot cast ${from} to ${to}: only float dtypes are cast`);
  if (to === 'F64') {
    const bits = toF32Bits(bytes, from);
    return new Uint8Array(Float64Array.from(new Float32Array(bits.buffer, bits.byteOffset, bits.length)).buffer);
  }
  if ((from === 'BF16' || from === 'F16') && (to === 'BF16' || to === 'F16')) {
    const b = aligned(bytes);
    const src = new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
    const lut = table(from, to) as Uint16Array;
    const out = new Uint16Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = lut[src[i]!]!;
    return new Uint8Array(out.buffer);
  }
  const bits = toF32Bits(bytes, from);
  if (to === 'F32') return new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
  const out = new Uint16Array(bits.length);
  const nan = from === 'F16' ? 0x7fc0 : 0xffff;
  if (to === 'BF16') for (let i = 0; i < bits.length; i++) out[i] = f32BitsToBf16(bits[i]!, nan);
  else for (let i = 0; i < bits.length; i++) out[i] = f32BitsToF16(bits[i]!);
  return new Uint8Array(out.buffer);
}
