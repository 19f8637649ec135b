import { openSync, readSync, closeSync } from 'node:fs';
import { DataError } from '@weft/core';

/** safetensors dtype names; the converters speak these throughout. */
export type DType =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'I16'
  | 'U16'
  | 'F16'
  | 'BF16'
  | 'I32'
  | 'U32'
  | 'F32'
  | 'F64'
  | 'I64'
  | 'U64'
  | 'C64'
  | 'F8_E4M3'
  | 'F8_E5M2';

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<DType, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
  C64: 8,
};

export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.hasOwn(DTYPE_SIZE, s);
}

/**
 * One tensor flowing through the converters. Metadata is eager, the bytes are not:
 * `read()` fetches them (by offset, from the file they live in) only when a sink asks, so a
 * pipeline over a 100 GB checkpoint holds about one tensor in memory at a time.
 *
 * @example
 * for await (const t of readSafetensors('model.safetensors')) {
 *   console.log(t.name, t.dtype, t.shape, t.nbytes);
 *   const bytes = await t.read(); // C order, little-endian, contiguous
 * }
 */
export interface TensorRecord {
  name: string;
  dtype: DType;
  shape: number[];
  /** Byte length of the contiguous tensor (product of shape × dtype size). */
  nbytes: number;
  /** The tensor's bytes: C order, contiguous, little-endian. Each call reads again. */
  read(): Promise<Uint8Array>;
  /**
   * Optional: the same bytes in pieces, for sinks that do not need the whole tensor at once
   * (a sink copying without a cast keeps memory at two chunks). Two buffers alternate: a chunk
   * stays valid until the one after next is requested, so a sink may write chunk k while
   * chunk k+1 is read.
   */
  stream?(chunkBytes?: number): AsyncIterable<Uint8Array>;
  /** Strides (in elements) of the stored view, when the source had them (PyTorch). */
  strides?: number[];
  /** Where the bytes live, for messages and inspection. */
  source?: { file: string; offset: number };
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * A record over bytes already in memory.
 *
 * @example
 * const t = tensorFromBytes('w', 'F32', [2], new Uint8Array(new Float32Array([1, 2]).buffer));
 */
export function tensorFromBytes(name: string, dtype: DType, shape: number[], bytes: Uint8Array): TensorRecord {
  const nbytes = numel(shape) * DTYPE_SIZE[dtype];
  if (bytes.length !== nbytes)
    throw new Error(`${name}: ${bytes.length} bytes for ${dtype}${JSON.stringify(shape)} (expected ${nbytes})`);
  return { name, dtype, shape, nbytes, read: async () => bytes };
}

/** Read `length` bytes at `offset` of `file` (positioned reads; opened per call so no fd outlives a record). */
export function readRange(file: string, offset: number, length: number): Uint8Array {
  const out = Buffer.allocUnsafe(length);
  const fd = openSync(file, 'r');
  try {
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, length - done, offset + done);
      if (n === 0)
        throw new DataError(
          `file ends before ${length} bytes could be read`,
          { file, offset: offset + done },
          { reason: 'truncated' },
        );
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** Same record under another name (key mapping stages use this). */
export function renameTensor(t: TensorRecord, name: string): TensorRecord {
  return { ...t, name };
}

/**
 * Stream `length` bytes at `offset` of `file` in chunks through two alternating buffers.
 *
 * @example
 * for await (const chunk of streamRange('a.pth', 4096, 1 << 30)) await out.write(chunk);
 */
export async function* streamRange(
  file: string,
  offset: number,
  length: number,
  chunkBytes = 16 << 20,
): AsyncGenerator<Uint8Array> {
  const size = Math.max(1, Math.min(chunkBytes, length));
  const bufs = [Buffer.allocUnsafe(size), length > size ? Buffer.allocUnsafe(size) : undefined];
  const fd = openSync(file, 'r');
  try {
    let done = 0;
    for (let k = 0; done < length; k ^= 1) {
      const buf = bufs[k]!;
      const want = Math.min(buf.length, length - done);
      let got = 0;
      while (got < want) {
        const n = readSync(fd, buf, got, want - got, offset + done + got);
        if (n === 0)
          throw new DataError(
            `file ends before ${length} bytes could be read`,
            { file, offset: offset + done + got },
            { reason: 'truncated' },
          );
        got += n;
      }
      done += want;
      yield buf.subarray(0, want);
    }
  } finally {
    closeSync(fd);
  }
}
