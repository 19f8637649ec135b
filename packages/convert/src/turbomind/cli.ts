import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { checkOutputDir, existingPath, integer, OptionError, oneOf } from '@weft/core';
import { readSafetensors } from '../safetensors-read.ts';
import type { TurbomindDType } from './model-info.ts';
import { tokenizerSize } from './tokenizer-size.ts';
import { writeTurbomind } from './write.ts';

/**
 * lmdeploy's chat-template guess from the model path, for the templates of the families weft
 * converts (lmdeploy tries ~50 templates in registry order; these are the ones that can match
 * llama / internlm2 / qwen2 paths, in that order). Anything else: 'base'.
 *
 * @example
 * guessChatTemplate('/models/internlm2-chat-7b'); // 'internlm2'
 */
export function guessChatTemplate(path: string): string {
  const p = path.toLowerCase();
  if (!['internlm3', 'internlm2', '8k'].some((c) => p.includes(c)) && p.includes('internlm') && p.includes('chat'))
    return 'internlm';
  if (p.includes('internlm2') && (p.includes('chat') || p.includes('math'))) return 'internlm2';
  if (p.includes('internlm3') && p.includes('instruct')) return 'internlm3';
  if (p.includes('llama-2') || p.includes('llama2')) return 'llama2';
  if (!p.includes('internvl2') && (p.includes('llama-3-') || p.includes('llama3-'))) return 'llama3';
  if (['llama-3.1-', 'llama3.1-', 'llama-3.2-', 'llama3.2-'].some((c) => p.includes(c))) return 'llama3_1';
  if (p.includes('qwen') && !['qwen2.5', 'qwq', 'qwen3'].some((c) => p.includes(c))) return 'qwen';
  if ((p.includes('qwen2.5') || p.includes('qwen2_5')) && !p.includes('vl')) return 'qwen2d5';
  return 'base';
}

/** The files lmdeploy copies to the top of the workspace: tokenizer files and every top-level .json / .py. */
export function workspaceCopies(hfDir: string): string[] {
  return readdirSync(hfDir)
    .filter(
      (n) => ['tokenizer.model', 'qwen.tiktoken', 'merges.txt'].includes(n) || n.endsWith('.json') || n.endsWith('.py'),
    )
    .map((n) => join(hfDir, n))
    .filter((f) => statSync(f).isFile())
    .sort();
}

/** `--tp`: lmdeploy splits weights over a power-of-two number of ranks. */
function powerOfTwo(v: string): number {
  const n = integer('--tp', { min: 1, max: 1024 })(v);
  if ((n & (n - 1)) !== 0) throw new OptionError(`--tp must be a power of two (1, 2, 4, 8, ...), got "${v}"`);
  return n;
}

/**
 * Add `hf-to-turbomind` to the `weft convert` command.
 *
 * @example
 * registerTurbomind(program.command('convert'));
 * // weft convert hf-to-turbomind internlm2 ./internlm2-chat-7b --dst-path ./workspace --tp 2
 */
export function registerTurbomind(convert: Command): void {
  convert
    .command('hf-to-turbomind')
    .description(
      "write the Turbomind workspace that lmdeploy v0.9.2's `lmdeploy convert` writes (llama, internlm2, qwen2; see packages/convert/TURBOMIND.md)",
    )
    .argument('<model-name>', 'name recorded as model_name in config.yaml')
    .argument(
      '<hf-dir>',
      'HF model folder: config.json, model.safetensors or model.safetensors.index.json + shards, tokenizer files',
      existingPath('<hf-dir>', 'dir'),
    )
    .requiredOption('--dst-path <dir>', 'workspace folder to create (a new or empty folder)')
    .option('--overwrite', 'replace an earlier weft workspace at --dst-path (never a folder weft did not write)')
    .option('--tp <n>', 'tensor-parallel ranks to split the weights for (power of two)', powerOfTwo, 1)
    .option(
      '--dtype <dtype>',
      'auto (bf16 models stay bf16, others fp16) | float16 | bfloat16',
      oneOf('--dtype', ['auto', 'float16', 'bfloat16'] as const),
      'auto',
    )
    .option(
      '--chat-template <name>',
      "lmdeploy chat template name for config.yaml (default: guessed from the path like lmdeploy, else 'base')",
    )
    .option(
      '--tokenizer-size <n>',
      'len(tokenizer), when the folder has neither tokenizer.json nor tokenizer.model',
      integer('--tokenizer-size', { min: 1, max: 2 ** 31 - 1 }),
    )
    .option('--quiet', 'no progress output')
    .action(
      async (
        modelName: string,
        hfDir: string,
        o: {
          dstPath: string;
          tp: number;
          dtype: string;
          chatTemplate?: string;
          tokenizerSize?: number;
          quiet?: boolean;
          overwrite?: boolean;
        },
      ) => {
        checkOutputDir(o.dstPath, {
          command: 'convert hf-to-turbomind',
          inputs: [hfDir],
          overwrite: Boolean(o.overwrite),
          option: '--dst-path',
        });
        const cfgPath = join(hfDir, 'config.json');
        if (!existsSync(cfgPath)) throw new Error(`${cfgPath} not found: <hf-dir> must be a Hugging Face model folder`);
        if (!existsSync(join(hfDir, 'model.safetensors')) && !existsSync(join(hfDir, 'model.safetensors.index.json'))) {
          throw new Error(
            `${hfDir} has no model.safetensors or model.safetensors.index.json; convert .bin checkpoints to safetensors first (weft convert pth-to-hf)`,
          );
        }
        const tp = o.tp;
        const tokSize = o.tokenizerSize ?? tokenizerSize(hfDir);
        if (tokSize === undefined)
          process.stderr.write(
            'warning: no tokenizer.json or tokenizer.model; tokenizer_size = vocab_size (use --tokenizer-size)\n',
          );
        const res = await writeTurbomind(o.dstPath, readSafetensors(hfDir), {
          config: JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>,
          modelName,
          tp,
          dtype: o.dtype as TurbomindDType,
          chatTemplate: o.chatTemplate ?? guessChatTemplate(hfDir),
          tokenizerSize: tokSize,
          copyFiles: workspaceCopies(hfDir),
          progress: !o.quiet,
          overwrite: Boolean(o.overwrite),
          inputs: [hfDir],
        });
        const n = res.files.filter((f) => f.startsWith('triton_models/')).length;
        process.stdout.write(
          `wrote ${res.dir}: ${n} files in triton_models/weights (tp=${tp}, ${res.info.weightType})\n`,
        );
        if (res.unused.length > 0)
          process.stdout.write(`not converted (${res.unused.length}): ${res.unused.join(', ')}\n`);
      },
    );
}
