import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { decimal, integer, seedOption, tokenizerOption } from '@weft/core';

/** Add this package's subcommands to the `weft` program. */
export function registerCommands(program: Command): void {
  program
    .command('train')
    .description('Train on packed data with PyTorch workers (one per GPU, or per CPU process with gloo)')
    .argument('<config>', 'config file (.ts/.js with a default export), or a name from `weft list-cfg`')
    .option(
      '--nproc-per-node <n>',
      "ranks on this machine (default: NPROC_PER_NODE, else the config's nprocPerNode, else one per GPU, else 1)",
      integer('--nproc-per-node', { min: 1, max: 1024 }),
    )
    .option('--resume [path]', 'continue from a checkpoint (iter_N.pth) or "auto" (the newest in work_dir)')
    .option('--python <path>', 'Python with PyTorch for the workers (default: $WEFT_PYTHON, else auto-detected)')
    .option('--work-dir <dir>', "override the config's workDir")
    .option('--total-steps <n>', "override the config's totalSteps", integer('--total-steps', { min: 1 }))
    .option(
      '--shard <how>',
      "override the config's shard: fsdp2 | ddp | none | auto (default: fsdp2 for several ranks on PyTorch >= 2.4, else ddp)",
    )
    .action(
      async (
        configArg: string,
        opts: {
          nprocPerNode?: number;
          resume?: string | boolean;
          python?: string;
          workDir?: string;
          totalSteps?: number;
          shard?: string;
        },
      ) => {
        const { loadConfig, validateConfig } = await import('./config.ts');
        const { namedConfigPath } = await import('./named-configs.ts');
        const { train } = await import('./train.ts');
        const file = existsSync(configArg) ? configArg : namedConfigPath(configArg);
        if (!file) throw new Error(`${configArg}: no such file, and not a named config (see \`weft list-cfg\`)`);
        const config = await loadConfig(file);
        if (opts.shard !== undefined) config.shard = opts.shard as typeof config.shard;
        validateConfig(config);
        if (opts.workDir) config.workDir = opts.workDir;
        if (opts.totalSteps !== undefined) config.totalSteps = opts.totalSteps;
        const resume = opts.resume === true ? 'auto' : opts.resume || undefined;
        await train(config, { nprocPerNode: opts.nprocPerNode, resume, python: opts.python });
      },
    );

  program
    .command('list-cfg')
    .description('List the named training configs')
    .action(async () => {
      const { listConfigs } = await import('./named-configs.ts');
      for (const c of listConfigs()) process.stdout.write(`${c.name.padEnd(48)} ${c.summary}\n`);
    });

  program
    .command('copy-cfg')
    .description('Copy a named training config into a folder, to edit')
    .argument('<name>', 'a name from `weft list-cfg`')
    .argument('<dir>', 'destination folder')
    .action(async (name: string, dir: string) => {
      const { copyConfig } = await import('./named-configs.ts');
      process.stdout.write(`${copyConfig(name, dir)}\n`);
    });

  program
    .command('generate')
    .description(
      'Generate a continuation from an HF model folder with the PyTorch worker (greedy, or sampled with a seed)',
    )
    .argument(
      '<hf-dir>',
      'HF model folder: config.json + *.safetensors (what weft convert pth-to-hf / internlm-to-hf write)',
    )
    .requiredOption('--prompt <text>', 'the prompt (with --template: the user message)')
    .option(
      '--template <name>',
      'xtuner prompt template for one user turn, e.g. internlm2_chat (`weft list-templates`)',
    )
    .option('--system <text>', 'system message (needs --template)')
    .addOption(tokenizerOption('tokenizer folder, hub id or "default" (default: the model folder)', null))
    .option('--max-new-tokens <n>', 'most tokens to generate', integer('--max-new-tokens', { min: 1 }), 128)
    .option('--temperature <t>', '0: greedy; > 0: sample at this temperature', decimal('--temperature', { min: 0 }), 0)
    .option('--top-p <p>', 'nucleus sampling mass (with --temperature)', decimal('--top-p', { min: 0, max: 1 }), 1)
    .addOption(seedOption('sampling seed: the same seed gives the same text').default(0))
    .option('--device <d>', 'auto (GPU when PyTorch sees one), cpu, cuda, cuda:N', 'auto')
    .option('--dtype <d>', 'auto (bf16 on GPU, fp32 on CPU), fp32, bf16, fp16', 'auto')
    .option('--python <path>', 'Python with PyTorch (default: $WEFT_PYTHON, else auto-detected)')
    .option('--json', 'print {prompt_ids, ids, text, stopped} as one JSON line')
    .action(
      async (
        model: string,
        o: {
          prompt: string;
          template?: string;
          system?: string;
          tokenizer?: string;
          maxNewTokens: number;
          temperature: number;
          topP: number;
          seed: number;
          device: string;
          dtype: string;
          python?: string;
          json?: boolean;
        },
      ) => {
        const { UsageError } = await import('@weft/core');
        if (!['auto', 'fp32', 'bf16', 'fp16'].includes(o.dtype))
          throw new UsageError(`--dtype must be auto, fp32, bf16 or fp16, got "${o.dtype}"`);
        const { generate } = await import('./generate.ts');
        const r = await generate({ ...o, model });
        process.stdout.write(
          o.json
            ? `${JSON.stringify({ prompt_ids: r.promptIds, ids: r.ids, text: r.text, stopped: r.stopped })}\n`
            : `${r.text}\n`,
        );
      },
    );
}
