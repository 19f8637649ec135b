import { PyObject } from './pickle.ts';
import { TorchTensor } from './pth.ts';

/** A state dict found inside a checkpoint: tensors by name, and what was not a tensor. */
export interface FoundStateDict {
  /** Where it was: '' (top level), 'state_dict', 'module', ... */
  path: string;
  tensors: [string, TorchTensor][];
  /** Names of entries that were not tensors (kept out of the output, reported). */
  skipped: string[];
}

const asMap = (v: unknown): Map<unknown, unknown> | undefined =>
  v instanceof Map ? v : v instanceof PyObject && v.dict.size ? v.dict : undefined;

/**
 * Find the state dict in an unpickled checkpoint: the object itself when its values are
 * tensors, else under `state_dict` (mmengine / xtuner) or `module` (DeepSpeed), else `model`.
 *
 * @example
 * const sd = findStateDict(readTorchFile('iter_500.pth').value);
 */
export function findStateDict(value: unknown): FoundStateDict | undefined {
  const top = asMap(value);
  if (!top) return undefined;
  const tensorsOf = (m: Map<unknown, unknown>, path: string): FoundStateDict => {
    const tensors: [string, TorchTensor][] = [];
    const skipped: string[] = [];
    for (const [k, v] of m) {
      if (v instanceof TorchTensor) tensors.push([String(k), v]);
      else skipped.push(String(k));
    }
    return { path, tensors, skipped };
  };
  for (const key of ['state_dict', 'module', 'model']) {
    const inner = asMap(top.get(key));
    if (inner && [...inner.values()].some((v) => v instanceof TorchTensor)) return tensorsOf(inner, key);
  }
  const here = tensorsOf(top, '');
  return here.tensors.length ? here : undefined;
}
