import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { checkOutputDir, DataError, Progress, StagedOutputDir, writeFileAtomic } from '@weft/core';
import { openCheckpoint } from './checkpoint.ts';
import { isLoraStateDict, loraAdapterConfig, mapXtunerKeys, peftAdapterKeys } from './keys.ts';
import { writeSafetensors, type WrittenSafetensors } from './safetensors-write.ts';
import type { DType, TensorRecord } from './tensor.ts';

/** Options for {@link pthToHf}. */
export interface PthToHfOptions {
  /** The base model: a HF model folder, its config.json, or an xtuner config .py naming `pretrained_model_name_or_path`. */
  base: string;
  /** The checkpoint: a .pth/.pt file or a DeepSpeed folder. */
  pth: string;
  out: string;
  /** Largest shard ("2GB", like xtuner's default). */
  maxShardSize?: string | number;
  /** Cast float tensors (default: keep the checkpoint's dtypes). */
  dtype?: DType;
  /** LoRA checkpoints: PEFT's lora_alpha, which the tensors do not record. */
  loraAlpha?: number;
  loraDropout?: number;
  /** Show a progress bar on stderr (default true). */
  progress?: boolean;
  /** Replace an earlier weft output at `out` (`--overwrite`); never a folder weft did not write. */
  overwrite?: boolean;
}

/** What {@link pthToHf} did. */
export interface PthToHfResult extends WrittenSafetensors {
  kind: string;
  lora: boolean;
  copied: string[];
  dropped: string[];
  skipped: string[];
}

/** Files save_pretrained / tokenizer.save_pretrained leave beside the weights, copied from the base model. */
const BASE_FILES =
  /^(config\.json|generation_config\.json|tokenizer.*\.(json|model)|special_tokens_map\.json|added_tokens\.json|vocab\.(json|txt)|merges\.txt|.*\.tiktoken|[a-z_0-9]+\.py)$/;

/** Resolve the base model folder from a folder, a config.json, or an xtuner .py config. */
export function baseModelDir(base: string): string {
  if (statSync(base).isDirectory()) return base;
  if (base.endsWith('.py')) {
    const m = /pretrained_model_name_or_path\s*=\s*['"]([^'"]+)['"]/.exec(readFileSync(base, 'utf8'));
    if (!m)
      throw new DataError('xtuner config names no pretrained_model_name_or_path; pass the base model folder instead', {
        file: base,
      });
    const dir = m[1]!.startsWith('/') ? m[1]! : join(dirname(base), m[1]!);
    if (!existsSync(dir))
      throw new DataError(`base model ${m[1]} is not a local folder; download it and pass the folder`, { file: base });
    return dir;
  }
  return dirname(base);
}

/**
 * `weft convert pth-to-hf`: a training checkpoint → a Hugging Face model folder (safetensors
 * shards + index, the base model's config, generation config and tokenizer files), or for a
 * LoRA checkpoint a PEFT adapter folder (adapter_model.safetensors + adapter_config.json).
 *
 * @example
 * await pthToHf({ base: 'internlm2-chat-7b/', pth: 'work_dirs/iter_500.pth', out: 'hf/', dtype: 'BF16' });
 */
export async function pthToHf(opts: PthToHfOptions): Promise<PthToHfResult> {
  const output = { command: 'convert pth-to-hf', inputs: [opts.base, opts.pth], overwrite: opts.overwrite ?? false };
  checkOutputDir(opts.out, output); // before any work
  const ckpt = openCheckpoint(opts.pth);
  const mapped = mapXtunerKeys(ckpt.tensors);
  const lora = isLoraStateDict(mapped.tensors);
  const baseDir = baseModelDir(opts.base);
  let records = mapped.tensors;
  const dropped = [...mapped.dropped];
  if (lora) {
    if (opts.loraAlpha === undefined)
      throw new DataError(
        'this is a LoRA checkpoint; pass --lora-alpha (the lora_alpha of your training config), which the weights do not record',
        { file: opts.pth },
        { reason: 'lora-alpha' },
      );
    const a = peftAdapterKeys(records);
    records = a.tensors;
    dropped.push(...a.dropped);
  }
  if (records.length === 0) throw new DataError('no tensors to write', { file: opts.pth }, { reason: 'empty' });
  checkOutputDir(opts.out, { ...output, inputs: [...output.inputs, baseDir] });
  // Written in a temp folder beside `out` and moved there whole, marked as weft's.
  const staged = await StagedOutputDir.create(opts.out, output);
  try {
    const r = await writeHfFolder(staged.path, records, baseDir, lora, opts);
    await staged.commit();
    return {
      ...r,
      files: r.files.map((f) => join(opts.out, basename(f))),
      kind: ckpt.kind,
      dropped,
      skipped: ckpt.skipped,
    };
  } catch (e) {
    await staged.abort();
    throw e;
  }
}

/** The weights, the adapter config (LoRA) and the base model's files, into `dir`. */
async function writeHfFolder(
  dir: string,
  records: TensorRecord[],
  baseDir: string,
  lora: boolean,
  opts: PthToHfOptions,
): Promise<WrittenSafetensors & { lora: boolean; copied: string[] }> {
  const total = records.reduce((s, t) => s + t.nbytes, 0);
  const bar = new Progress({ label: 'pth-to-hf', total, unit: 'B', enabled: opts.progress ?? true });
  const written = await writeSafetensors(dir, records, {
    maxShardSize: lora ? Number.MAX_SAFE_INTEGER : opts.maxShardSize,
    dtype: opts.dtype,
    stem: lora ? 'adapter_model' : 'model',
    onTensor: (t) => bar.tick(t.nbytes),
  });
  bar.done();
  const copied: string[] = [];
  if (lora) {
    const cfg = loraAdapterConfig(records, {
      loraAlpha: opts.loraAlpha!,
      loraDropout: opts.loraDropout,
      baseModel: baseDir,
    });
    await writeFileAtomic(join(dir, 'adapter_config.json'), `${JSON.stringify(cfg, null, 2)}\n`);
  }
  for (const f of readdirSync(baseDir).sort()) {
    if (!BASE_FILES.test(f) || (lora && f === 'config.json')) continue;
    const src = join(baseDir, f);
    if (!statSync(src).isFile()) continue;
    if (f === 'config.json' && opts.dtype) {
      const cfg = JSON.parse(readFileSync(src, 'utf8')) as Record<string, unknown>;
      cfg.torch_dtype =
        { BF16: 'bfloat16', F16: 'float16', F32: 'float32', F64: 'float64' }[opts.dtype as string] ?? cfg.torch_dtype;
      await writeFileAtomic(join(dir, f), `${JSON.stringify(cfg, null, 2)}\n`);
    } else {
      await writeFileAtomic(join(dir, f), readFileSync(src)); // tokenizer files are small
    }
    copied.push(basename(f));
  }
  return { ...written, lora, copied };
}
