import { join } from 'node:path';
import type { Command } from 'commander';
import { checkOutputFile, DataError, existingPath } from '@weft/core';
import { dataOrder, formatDataOrder, writeDataOrder } from './data-order.ts';
import { scanSources } from './sources.ts';

/** Add this package's subcommands to the `weft` program. */
export function registerCommands(program: Command): void {
  program
    .command('order')
    .description(
      "Write data_order.txt for a data folder (xtuner's format: relative paths, one per line), in a deterministic pre-order walk.",
    )
    .argument(
      '<folder>',
      'the data folder to walk (symlinked directories are followed)',
      existingPath('<folder>', 'dir'),
    )
    .option('--file-type <suffix>', 'keep files whose name ends with this', '.bin')
    .option('--out <dir>', 'folder to write data_order.txt into (default: the data folder)')
    .option('--print', 'also print the order to stdout')
    .option('--overwrite', 'replace an existing data_order.txt that lists another order (it may be hand-written)')
    .action(async (folder: string, opts: { fileType: string; out?: string; print?: boolean; overwrite?: boolean }) => {
      const order = await dataOrder(folder, { fileType: opts.fileType });
      const file = join(opts.out ?? folder, 'data_order.txt');
      // Nothing is removed; an existing data_order.txt is replaced only when it says the same or with --overwrite.
      await checkOutputFile(file, {
        overwrite: Boolean(opts.overwrite),
        sameAs: formatDataOrder(order),
        option: 'data_order.txt at',
      });
      await writeDataOrder(file, order);
      if (opts.print) process.stdout.write(order.map((p) => `${p}\n`).join(''));
      process.stderr.write(`weft order: ${order.length} ${opts.fileType} file(s) -> ${file}\n`);
    });

  program
    .command('meta')
    .description(
      "Rebuild the .bin.meta of an InternLM .bin (or of every .bin under a folder) from the .bin, streaming: the bytes InternLM's tokenizer.py writes. Missing metas are written; existing ones are checked and kept when they match.",
    )
    .argument('<path>', 'a .bin file, or a folder of them', existingPath('<path>'))
    .option('--rewrite', 'replace an existing .meta that does not match its .bin (default: report it and exit 2)')
    .action(async (path: string, opts: { rewrite?: boolean }) => {
      const { rebuildMeta } = await import('./rebuild-meta.ts');
      const results = await rebuildMeta(path, { rewrite: Boolean(opts.rewrite) });
      for (const r of results)
        process.stdout.write(
          `${r.status.padEnd(9)} ${r.bin}.meta  ${r.lines} lines${r.detail ? `  (${r.detail})` : ''}\n`,
        );
      if (results.length === 0) process.stderr.write(`weft: WARNING: no .bin files under ${path}\n`);
      const differs = results.filter((r) => r.status === 'differs');
      if (differs.length > 0) {
        throw new DataError(
          `${differs.length} existing .meta file(s) do not match their .bin and were left as they are; rerun with --rewrite to replace them`,
          { file: path },
          { reason: 'meta-mismatch' },
        );
      }
    });

  program
    .command('scan')
    .description(
      'List the data files under a folder by kind (InternLM .bin, ftdp, jsonl, JSON array, text) in data order, and count their records.',
    )
    .argument('<folder>', 'the data folder', existingPath('<folder>', 'dir'))
    .option('--no-read', 'only list files, do not read them')
    .option('--json', 'print JSON instead of a table')
    .action(async (folder: string, opts: { read: boolean; json?: boolean }) => {
      const scan = await scanSources(folder, { read: opts.read });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(scan, null, 2)}\n`);
        return;
      }
      for (const s of scan) {
        const counts =
          s.records === undefined
            ? ''
            : `  ${s.records} records${s.tokens === undefined ? '' : `, ${s.tokens} tokens`}`;
        const bad = s.rejected && Object.keys(s.rejected).length > 0 ? `  rejected ${JSON.stringify(s.rejected)}` : '';
        process.stdout.write(
          `${s.kind.padEnd(13)} ${String(s.files.length).padStart(4)} file(s) ${(s.bytes / 1e3).toFixed(1).padStart(9)} kB${counts}${bad}\n`,
        );
      }
    });
}
