import { join } from 'node:path';
import type { Command } from 'commander';
import { dataOrder, writeDataOrder } from './data-order.ts';

/** Add this package's subcommands to the `weft` program. */
export function registerCommands(program: Command): void {
  program
    .command('order')
    .description("Write data_order.txt for a data folder (xtuner's format: relative paths, one per line), in a deterministic pre-order walk.")
    .argument('<folder>', 'the data folder to walk (symlinked directories are followed)')
    .option('--file-type <suffix>', 'keep files whose name ends with this', '.bin')
    .option('--out <dir>', 'folder to write data_order.txt into (default: the data folder)')
    .option('--print', 'also print the order to stdout')
    .action(async (folder: string, opts: { fileType: string; out?: string; print?: boolean }) => {
      const order = await dataOrder(folder, { fileType: opts.fileType });
      const file = join(opts.out ?? folder, 'data_order.txt');
      await writeDataOrder(file, order);
      if (opts.print) process.stdout.write(order.map((p) => `${p}\n`).join(''));
      process.stderr.write(`weft order: ${order.length} ${opts.fileType} file(s) -> ${file}\n`);
    });
}
