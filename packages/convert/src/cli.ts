import type { Command } from 'commander';
import { byteSize, decimal, existingPath, oneOf } from '@weft/core';
import { registerInternlmToHf } from './internlm-cli.ts';
import { inspectCheckpoint } from './inspect.ts';
import { pthToHf } from './pth-to-hf.ts';
import type { DType } from './tensor.ts';
import { registerTurbomind } from './turbomind/cli.ts';

const DTYPES: Record<string, DType> = {
  bf16: 'BF16',
  fp16: 'F16',
  fp32: 'F32',
  bfloat16: 'BF16',
  float16: 'F16',
  float32: 'F32',
};

/** Add this package's subcommands to the `weft` program. */
export function registerCommands(program: Command): void {
  const convert = program
    .command('convert')
    .description('convert checkpoints: pth-to-hf, internlm-to-hf, inspect, hf-to-turbomind');
  convert
    .command('pth-to-hf')
    .description('training checkpoint (.pth, DeepSpeed folder, xtuner, LoRA) → Hugging Face safetensors folder')
    .argument('<base>', 'base model: HF model folder, its config.json, or an xtuner config .py', existingPath('<base>'))
    .argument(
      '<pth>',
      'checkpoint: .pth/.pt file, DeepSpeed checkpoint folder, or a work dir with last_checkpoint',
      existingPath('<pth>'),
    )
    .argument('<out>', 'output folder (a new or empty folder)')
    .option('--overwrite', 'replace an earlier weft output at <out> (never a folder weft did not write)')
    .option(
      '--max-shard-size <size>',
      'largest safetensors shard (e.g. 2GB, 500MB, 4GiB)',
      byteSize('--max-shard-size', { min: 1 }),
      2e9,
    )
    .option('--dtype <dtype>', 'cast float weights: bf16, fp16 or fp32 (default: keep)', (v: string) =>
      oneOf('--dtype', Object.keys(DTYPES))(v.toLowerCase()),
    )
    .option(
      '--lora-alpha <n>',
      'LoRA checkpoints: lora_alpha of the training config',
      decimal('--lora-alpha', { min: 0 }),
    )
    .option(
      '--lora-dropout <p>',
      'LoRA checkpoints: lora_dropout for adapter_config.json',
      decimal('--lora-dropout', { min: 0, max: 1 }),
    )
    .option('--quiet', 'no progress bar')
    .action(
      async (
        base: string,
        pth: string,
        out: string,
        o: {
          maxShardSize: number;
          dtype?: string;
          loraAlpha?: number;
          loraDropout?: number;
          quiet?: boolean;
          overwrite?: boolean;
        },
      ) => {
        let dtype: DType | undefined;
        if (o.dtype !== undefined) {
          dtype = DTYPES[o.dtype.toLowerCase()];
          if (!dtype) throw new Error(`--dtype ${o.dtype}: use bf16, fp16 or fp32`);
        }
        const r = await pthToHf({
          base,
          pth,
          out,
          maxShardSize: o.maxShardSize,
          dtype,
          loraAlpha: o.loraAlpha,
          loraDropout: o.loraDropout,
          progress: !o.quiet,
          overwrite: Boolean(o.overwrite),
        });
        const lines = [
          `${r.kind}${r.lora ? ' (LoRA adapter)' : ''}: wrote ${r.tensors} tensors, ${r.totalSize} bytes in ${r.files.length} file(s) to ${out}`,
          r.copied.length
            ? `copied from the base model: ${r.copied.join(', ')}`
            : 'copied nothing from the base model (no config.json / tokenizer files found)',
        ];
        if (r.dropped.length)
          lines.push(
            `left out ${r.dropped.length} tensor(s) outside the language model: ${r.dropped.slice(0, 5).join(', ')}${r.dropped.length > 5 ? ', ...' : ''}`,
          );
        if (r.skipped.length)
          lines.push(
            `skipped ${r.skipped.length} non-tensor entr${r.skipped.length === 1 ? 'y' : 'ies'} of the state dict`,
          );
        process.stderr.write(`${lines.join('\n')}\n`);
      },
    );
  convert
    .command('inspect')
    .description(
      'list the tensors (name, dtype, shape, bytes) of a .pth/.pt, safetensors file/folder, or DeepSpeed folder',
    )
    .argument('<file>', 'checkpoint file or folder', existingPath('<file>'))
    .option('--json', 'print JSON')
    .action((file: string, o: { json?: boolean }) => {
      const r = inspectCheckpoint(file);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      const out = [
        `# ${r.kind}${r.path ? ` (state dict under "${r.path}")` : ''}: ${r.tensors.length} tensors, ${r.totalBytes} bytes`,
      ];
      for (const t of r.tensors)
        out.push(
          `${t.name}\t${t.dtype}\t[${t.shape.join(', ')}]\t${t.bytes}${t.strides ? `\tstrides [${t.strides.join(', ')}]` : ''}`,
        );
      if (r.skipped.length) out.push(`# not tensors: ${r.skipped.join(', ')}`);
      process.stdout.write(`${out.join('\n')}\n`);
    });
  registerInternlmToHf(convert, DTYPES);
  registerTurbomind(convert);
}
