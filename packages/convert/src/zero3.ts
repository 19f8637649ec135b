import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '@weft/core';
import { PyObject } from './pickle.ts';
import { readTorchFile, TorchTensor } from './pth.ts';
import { DTYPE_SIZE, numel, type TensorRecord } from './tensor.ts';

const get = (m: unknown, k: string): unknown =>
  m instanceof Map ? m.get(k) : m instanceof PyObject ? m.dict.get(k) : undefined;

/** One rank's fp32 partitions, concatenated (as zero_to_fp32 does with torch.cat), read by element range. */
class FlatPartition {
  readonly total: number;
  constructor(readonly parts: TorchTensor[]) {
    this.total = parts.reduce((s, t) => s + numel(t.shape), 0);
  }

  /** Elements [start, start + count) as fp32 bytes. */
  slice(start: number, count: number): Uint8Array {
    const out = new Uint8Array(count * 4);
    let base = 0;
    let written = 0;
    for (const t of this.parts) {
      const n = numel(t.shape);
      const lo = Math.max(start, base),
        hi = Math.min(start + count, base + n);
      if (lo < hi) {
        const view = new TorchTensor(t.storage, t.storageOffset + (lo - base), [hi - lo], [1]);
        out.set(view.read(), written * 4);
        written += hi - lo;
      }
      base += n;
    }
    return out;
  }
}

/**
 * ZeRO-3: rebuild full fp32 parameters from each rank's flat partitions, the way DeepSpeed's
 * `zero_to_fp32.py` does: parameters in `param_shapes` order, each split into
 * ceil(numel / world) elements per rank (the last rank padded), ranks concatenated, padding cut.
 * Frozen parameters come from every rank's `frozen_param_fragments`. Lazy: each record reads
 * only its own slices from every rank file.
 *
 * @example
 * const records = zero3Records('ckpt/global_step3');
 */
export function zero3Records(dir: string): TensorRecord[] {
  const optimFiles = readdirSync(dir).filter((f) => f.endsWith('_optim_states.pt'));
  const rankOf = (f: string) => Number(/zero_pp_rank_(\d+)/.exec(f)?.[1] ?? NaN);
  optimFiles.sort((a, b) => rankOf(a) - rankOf(b));
  if (optimFiles.length === 0)
    throw new DataError('ZeRO-3 checkpoint without *_optim_states.pt files: the fp32 weights live there', {
      file: dir,
    });
  const modelFile = join(dir, 'zero_pp_rank_0_mp_rank_00_model_states.pt');
  if (!existsSync(modelFile))
    throw new DataError('ZeRO-3 checkpoint without zero_pp_rank_0_mp_rank_00_model_states.pt', { file: dir });
  const partitions: FlatPartition[] = [];
  let world = 0;
  for (const f of optimFiles) {
    const file = join(dir, f);
    const osd = get(readTorchFile(file).value, 'optimizer_state_dict');
    const stage = get(osd, 'zero_stage');
    let count = get(osd, 'partition_count');
    if (Array.isArray(count)) count = Math.max(...(count as number[]));
    const groups = get(osd, 'fp32_flat_groups');
    if (stage !== 3 || !Array.isArray(groups) || !groups.every((t) => t instanceof TorchTensor && t.dtype === 'F32')) {
      throw new DataError(
        `expected optimizer_state_dict with zero_stage 3 and fp32_flat_groups (got stage ${String(stage)})`,
        { file },
      );
    }
    world = count as number;
    partitions.push(new FlatPartition(groups as TorchTensor[]));
  }
  if (world !== optimFiles.length)
    throw new DataError(
      `partition_count is ${world} but ${optimFiles.length} *_optim_states.pt files are here; was a rank's checkpoint not saved?`,
      { file: dir },
    );
  const model = readTorchFile(modelFile).value;
  const shapes = get(model, 'param_shapes');
  const module = get(model, 'module');
  const bufferNames = get(model, 'buffer_names');
  const shared = get(model, 'shared_params');
  if (!Array.isArray(shapes)) throw new DataError('model states have no param_shapes list', { file: modelFile });
  const out: TensorRecord[] = [];
  for (const name of Array.isArray(bufferNames) ? bufferNames : []) {
    const t = get(module, String(name));
    if (t instanceof TorchTensor) out.push(t.record(String(name)));
  }
  // frozen parameters (e.g. the base model under LoRA) are not in the optimizer: every rank's
  // model states hold a fragment; concatenated in rank order, cut to numel (zero_to_fp32's merge)
  const frozen = get(model, 'frozen_param_shapes');
  if (frozen instanceof Map && frozen.size > 0) {
    const fragments = Array.from({ length: world }, (_, r) => {
      const f = join(dir, `zero_pp_rank_${r}_mp_rank_00_model_states.pt`);
      if (!existsSync(f))
        throw new DataError(`ZeRO-3 checkpoint has frozen parameters but no model states of rank ${r}`, { file: f });
      return { file: f, frags: get(r === 0 ? model : readTorchFile(f).value, 'frozen_param_fragments') };
    });
    for (const [k, shape] of frozen) {
      const name = String(k);
      const sh = shape as number[];
      const parts = fragments.map(({ file, frags }) => {
        const t = get(frags, name);
        if (!(t instanceof TorchTensor)) throw new DataError(`no frozen_param_fragments entry for ${name}`, { file });
        return t;
      });
      const dtype = parts[0]!.dtype;
      const size = DTYPE_SIZE[dtype];
      const n = numel(sh);
      if (parts.some((t) => t.dtype !== dtype) || parts.reduce((a, t) => a + numel(t.shape), 0) < n)
        throw new DataError(`frozen fragments of ${name} do not add up to ${JSON.stringify(sh)}`, { file: modelFile });
      out.push({
        name,
        dtype,
        shape: sh,
        nbytes: n * size,
        read: async () => {
          const buf = new Uint8Array(n * size);
          let at = 0;
          for (const t of parts) {
            if (at >= buf.length) break;
            const b = t.read();
            const take = Math.min(b.length, buf.length - at);
            buf.set(b.subarray(0, take), at);
            at += take;
          }
          return buf;
        },
      });
    }
  }
  let offset = 0;
  const byName = new Map<string, TensorRecord>();
  for (const group of shapes) {
    if (!(group instanceof Map)) throw new DataError('param_shapes entry is not a dict', { file: modelFile });
    for (const [k, shape] of group) {
      const name = String(k);
      const sh = shape as number[];
      const n = numel(sh);
      const per = Math.ceil(n / world);
      const at = offset;
      offset += per;
      const rec: TensorRecord = {
        name,
        dtype: 'F32',
        shape: sh,
        nbytes: n * 4,
        read: async () => {
          const out = new Uint8Array(n * 4);
          for (let r = 0; r < world && r * per < n; r++) {
            const take = Math.min(per, n - r * per);
            out.set(partitions[r]!.slice(at, take), r * per * 4);
          }
          return out;
        },
      };
      out.push(rec);
      byName.set(name, rec);
    }
  }
  if (offset > partitions[0]!.total)
    throw new DataError(
      `param_shapes need ${offset} elements per rank but the partitions hold ${partitions[0]!.total}`,
      { file: join(dir, optimFiles[0]!) },
    );
  for (const pair of Array.isArray(shared) ? shared : []) {
    const [alias, partner] = pair as [string, string];
    const src = byName.get(partner);
    if (src) out.push({ ...src, name: alias });
  }
  return out;
}
