import type { Command } from 'commander';

/** `weft demo`: the README's main command. It grows as the stages land (see the README). */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Run the main job on the embedded default data and tokenizer, and print its summary')
    .option('--out <dir>', 'where to write outputs', 'out/demo')
    .action(async (opts: { out: string }) => {
      const { runDemo } = await import('./run-demo.ts');
      await runDemo(opts);
    });
}
