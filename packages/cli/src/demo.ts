import type { Command } from 'commander';
import { DEFAULT_WORKERS } from '@weft/core';

/** `weft demo`: the README's main command. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Run the main job on the embedded default data and tokenizer (ftdp sample → internlm2_chat → tokenize → pack) and print its summary')
    .option('--out <dir>', 'where to write outputs', 'out/demo')
    .option('--workers <n>', 'encoder threads (any count gives the same bytes)', (v) => Number.parseInt(v, 10), DEFAULT_WORKERS)
    .option('--train', 'then train the tiny demo model for a few steps on CPU (needs PyTorch; see packages/trainer)')
    .action(async (opts: { out: string; workers: number; train?: boolean }) => {
      const { runDemo } = await import('./run-demo.ts');
      await runDemo(opts);
    });
}
