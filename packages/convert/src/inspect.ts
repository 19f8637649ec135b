import { openCheckpoint } from './checkpoint.ts';

/** One line of `weft convert inspect`. */
export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  bytes: number;
  /** Strides when the stored view is not contiguous C order. */
  strides?: number[];
}

/**
 * List the tensors of any supported checkpoint (.pth/.pt, DeepSpeed folder, safetensors) without reading their data.
 *
 * @example
 * const { tensors } = inspectCheckpoint('iter_500.pth');
 */
export function inspectCheckpoint(path: string): {
  kind: string;
  path: string;
  tensors: TensorInfo[];
  skipped: string[];
  totalBytes: number;
} {
  const c = openCheckpoint(path);
  const tensors = c.tensors.map((t): TensorInfo => {
    const info: TensorInfo = { name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.nbytes };
    if (t.strides) {
      let expect = 1;
      const contiguous = t.shape.every((_, i) => {
        const d = t.shape.length - 1 - i;
        const ok = t.shape[d] === 1 || t.strides![d] === expect;
        expect *= t.shape[d]!;
        return ok;
      });
      if (!contiguous) info.strides = t.strides;
    }
    return info;
  });
  return {
    kind: c.kind,
    path: c.path,
    tensors,
    skipped: c.skipped,
    totalBytes: tensors.reduce((s, t) => s + t.bytes, 0),
  };
}
