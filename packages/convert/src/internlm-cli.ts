import type { Command } from 'commander';
import { byteSize, decimal, existingPath, integer, oneOf } from '@weft/core';
import { internlmToHf } from './internlm-to-hf.ts';
import type { InternlmVersion } from './internlm-layout.ts';
import type { DType } from './tensor.ts';

interface Opts {
  tokenizer?: string;
  modelType?: InternlmVersion;
  maxShardSize: number;
  dtype?: string;
  maxPositionEmbeddings?: number;
  rotaryType?: 'origin' | 'dynamic';
  scalingFactor?: number;
  codeFrom?: string;
  quiet?: boolean;
  overwrite?: boolean;
}

/** `weft convert internlm-to-hf`. */
export function registerInternlmToHf(convert: Command, dtypes: Record<string, DType>): void {
  convert
    .command('internlm-to-hf')
    .description(
      "InternLM/InternEvo training checkpoint (model_tp*_pp*.pt + model_config.pt) → Hugging Face safetensors folder, like InternLM's convert2hf.py",
    )
    .argument(
      '<ckpt-folder>',
      'checkpoint folder of one step (e.g. ckpts/5000) holding model_tp<T>_pp<P>.pt and model_config.pt',
      existingPath('<ckpt-folder>', 'dir'),
    )
    .argument('<out>', 'output folder (a new or empty folder)')
    .option(
      '--tokenizer <file>',
      'sentencepiece tokenizer.model (e.g. V7_sft.model): copied, with tokenizer_config.json and its chat template',
      existingPath('--tokenizer', 'file'),
    )
    .option(
      '--model-type <type>',
      'internlm (v1: blocks.*.mixer.Wqkv) or internlm2 (layers.*.attention.wqkv); default: told by the keys',
      oneOf('--model-type', ['internlm', 'internlm2'] as const),
    )
    .option('--dtype <dtype>', 'cast float weights: bf16, fp16 or fp32 (default: keep)', (v: string) =>
      oneOf('--dtype', Object.keys(dtypes))(v.toLowerCase()),
    )
    .option(
      '--max-shard-size <size>',
      'largest safetensors shard (e.g. 2GB, 500MB)',
      byteSize('--max-shard-size', { min: 1 }),
      2e9,
    )
    .option(
      '--max-position-embeddings <n>',
      'config.json max_position_embeddings (default 4096)',
      integer('--max-position-embeddings', { min: 1 }),
    )
    .option(
      '--rotary-type <type>',
      'origin or dynamic (NTK) rotary; default origin for internlm, dynamic for internlm2',
      oneOf('--rotary-type', ['origin', 'dynamic'] as const),
    )
    .option(
      '--scaling-factor <r>',
      'dynamic NTK factor (default 1.0 internlm, 2.0 internlm2)',
      decimal('--scaling-factor', { min: 0 }),
    )
    .option(
      '--code-from <hf-folder>',
      'copy the *.py (remote code) of a downloaded InternLM HF model folder into the output',
      existingPath('--code-from', 'dir'),
    )
    .option('--overwrite', 'replace an earlier weft output at <out> (never a folder weft did not write)')
    .option('--quiet', 'no progress bar')
    .action(async (ckpt: string, out: string, o: Opts) => {
      const r = await internlmToHf({
        ckpt,
        out,
        tokenizer: o.tokenizer,
        modelType: o.modelType,
        maxShardSize: o.maxShardSize,
        dtype: o.dtype ? dtypes[o.dtype.toLowerCase()] : undefined,
        maxPositionEmbeddings: o.maxPositionEmbeddings,
        rotaryType: o.rotaryType,
        scalingFactor: o.scalingFactor,
        codeFrom: o.codeFrom,
        progress: !o.quiet,
        overwrite: Boolean(o.overwrite),
      });
      const lines = [
        `${r.version} checkpoint, tp ${r.tp} × pp ${r.pp}: wrote ${r.tensors} tensors, ${r.totalSize} bytes in ${r.files.length} file(s) to ${out}`,
        `also wrote ${r.extra.join(', ')}`,
        ...r.warnings.map((w) => `warning: ${w}`),
      ];
      process.stderr.write(`${lines.join('\n')}\n`);
    });
}
