import type { Command } from 'commander';
import { workersOption } from '@weft/core';

/** `weft demo`: the README's main command. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'Run the main job on the embedded default data and tokenizer (ftdp sample → internlm2_chat → tokenize → pack) and print its summary',
    )
    .option('--out <dir>', 'where to write outputs (a rerun resumes its own earlier output)', 'out/demo')
    .option('--overwrite', 'replace an earlier weft output at --out made otherwise (never a folder weft did not write)')
    .addOption(workersOption('encoder threads (any count gives the same bytes)'))
    .option('--train', 'then train the tiny demo model for a few steps on CPU (needs PyTorch; see packages/trainer)')
    .action(async (opts: { out: string; workers: number; train?: boolean; overwrite?: boolean }) => {
      const { runDemo } = await import('./run-demo.ts');
      await runDemo(opts);
    });
}
