import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '@weft/core';
import { PyObject } from './pickle.ts';
import { readTorchFile } from './pth.ts';
import { readSafetensorsHeader, safetensorsFiles } from './safetensors-read.ts';
import { dcpFiles, dcpRecords, isDcpDir } from './dcp.ts';
import { findStateDict } from './state-dict.ts';
import type { TensorRecord } from './tensor.ts';
import { zero3Records } from './zero3.ts';

/** What a checkpoint path held, as tensor records with their stored names. */
export interface Checkpoint {
  /** 'pth' | 'dcp' | 'deepspeed-zero2' | 'deepspeed-zero3' | 'safetensors' */
  kind: string;
  /** Where in the pickle the state dict was ('' top level, 'state_dict', 'module'). */
  path: string;
  tensors: TensorRecord[];
  /** Non-tensor entries of the state dict, left out. */
  skipped: string[];
  /** The file(s) read, for messages. */
  files: string[];
}

/** Find the DeepSpeed tag folder: the path itself, or the one `latest` names, or the only global_step* folder. */
function deepspeedDir(dir: string): string | undefined {
  const hasStates = (d: string) => readdirSync(d).some((f) => f.endsWith('_model_states.pt'));
  if (hasStates(dir)) return dir;
  const latest = join(dir, 'latest');
  if (existsSync(latest)) {
    const tag = readFileSync(latest, 'utf8').trim();
    if (existsSync(join(dir, tag)) && hasStates(join(dir, tag))) return join(dir, tag);
  }
  const steps = readdirSync(dir).filter((f) => statSync(join(dir, f)).isDirectory() && hasStates(join(dir, f)));
  return steps.length === 1 ? join(dir, steps[0]!) : undefined;
}

/**
 * Open any supported checkpoint as lazy tensor records: a torch.save file (plain state dict,
 * `{state_dict}` / `{module}` wrappers), a work dir whose `last_checkpoint` names one (weft trainer,
 * mmengine), a sharded torch.distributed.checkpoint folder (weft's FSDP2 `iter_<N>.dcp`), a DeepSpeed folder (ZeRO-1/2 model states, ZeRO-3
 * partitions consolidated), or safetensors (file, folder, index).
 *
 * @example
 * const { tensors } = openCheckpoint('work_dirs/iter_500.pth');
 */
export function openCheckpoint(path: string): Checkpoint {
  if (statSync(path).isDirectory()) {
    if (isDcpDir(path)) return fromDcp(path);
    // a weft (or mmengine) work dir: `last_checkpoint` names the newest iter_<N>.pth (or iter_<N>.dcp)
    const last = join(path, 'last_checkpoint');
    if (existsSync(last)) {
      const name = readFileSync(last, 'utf8').trim();
      const file = name.startsWith('/') ? name : join(path, name);
      if (existsSync(file) && statSync(file).isFile()) return fromTorch(file, 'pth');
      if (existsSync(file) && isDcpDir(file)) return fromDcp(file);
    }
    const ds = deepspeedDir(path);
    if (ds) {
      const mp = join(ds, 'mp_rank_00_model_states.pt');
      if (existsSync(mp)) return fromTorch(mp, 'deepspeed-zero2');
      if (existsSync(join(ds, 'zero_pp_rank_0_mp_rank_00_model_states.pt'))) {
        return { kind: 'deepspeed-zero3', path: '', tensors: zero3Records(ds), skipped: [], files: [ds] };
      }
    }
    if (existsSync(join(path, 'model.safetensors')) || existsSync(join(path, 'model.safetensors.index.json')))
      return fromSafetensors(path);
    throw new DataError(
      'folder is neither a DeepSpeed checkpoint (no *_model_states.pt, no `latest`) nor a safetensors model',
      { file: path },
      { reason: 'unknown-layout' },
    );
  }
  if (path.endsWith('.safetensors') || path.endsWith('.index.json')) return fromSafetensors(path);
  return fromTorch(path, 'pth');
}

function fromTorch(file: string, kind: string): Checkpoint {
  const value = readTorchFile(file).value;
  const sd = findStateDict(value);
  if (!sd) {
    const entries =
      value instanceof Map
        ? [...value]
            .slice(0, 5)
            .map(([k, v]) => `${String(k)}: ${describe(v)}`)
            .join(', ')
        : describe(value);
    throw new DataError(
      `no state dict of tensors found (looked at the top level, state_dict, module, model); found ${entries}`,
      { file },
      { reason: 'no-state-dict' },
    );
  }
  return {
    kind,
    path: sd.path,
    tensors: sd.tensors.map(([name, t]) => t.record(name)),
    skipped: sd.skipped,
    files: [file],
  };
}

function fromDcp(dir: string): Checkpoint {
  const { tensors, skipped } = dcpRecords(dir);
  return { kind: 'dcp', path: '', tensors, skipped, files: dcpFiles(dir) };
}

function fromSafetensors(path: string): Checkpoint {
  const files = safetensorsFiles(path);
  return {
    kind: 'safetensors',
    path: '',
    tensors: files.flatMap((f) => readSafetensorsHeader(f).tensors),
    skipped: [],
    files,
  };
}

/** A short description of an unpickled value for messages; placeholders name the class that was not called. */
function describe(v: unknown): string {
  if (v instanceof PyObject) return `<${v.qualname} object, not executed>`;
  if (v instanceof Map) return `dict of ${v.size}`;
  if (Array.isArray(v)) return `list of ${v.length}`;
  return typeof v;
}
