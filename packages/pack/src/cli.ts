import type { Command } from 'commander';
import { byteSize, checkOutputNotEmpty, DEFAULT_TEMPLATE, DEFAULT_WORKERS, existingPath, integer, oneOf } from '@weft/core';

// Token counts and indices are int32 in the Arrow columns; a seed is numpy's uint32.
const int = (name: string, min = 0, max = 2 ** 31 - 1): ((v: string) => number) => integer(name, { min, max });
const SEED = integer('--seed', { min: 0, max: 2 ** 32 - 1 });
const WORKERS = integer('--workers', { min: 0, max: 256 });

/** Add this package's subcommands (`pack`, `process`, `inspect`) to the `weft` program. */
export function registerCommands(program: Command): void {
  program
    .command('pack')
    .description('Pack a folder of InternLM tokenized .bin/.bin.meta files as xtuner does (length-seeded, per file, in data order) into an Arrow datasets folder with input_ids, labels, cumulative_len, position_ids (one row per pack)')
    .argument('<bin-folder>', 'folder of .bin files with their .bin.meta', existingPath('<bin-folder>', 'dir'))
    .requiredOption('--packed-length <n>', 'tokens per pack', int('--packed-length', 1))
    .option('--seed <n>', 'shuffle seed of the packing', SEED, 1024)
    .option('--min-length <n>', 'drop samples with fewer tokens (xtuner min_length)', int('--min-length'), 0)
    .option('--data-order <file>', 'data_order.txt listing the .bin files (default: weft\'s deterministic walk)', existingPath('--data-order', 'file'))
    .option('--max-shard-size <bytes>', 'bytes per Arrow shard (a number, or e.g. 500MB, 1GiB)', byteSize('--max-shard-size', { min: 1 }), 500 << 20)
    .option('--workers <n>', 'threads building packs (output identical for any count)', WORKERS, 0)
    .option('--on-error <mode>', 'bad lines: fail, or skip and count them (reads every line once more before packing)', oneOf('--on-error', ['fail', 'skip'] as const), 'fail')
    .option('--vocab-size <n>', "the model's vocabulary size: a line with a token id at or above it fails naming file and line (every line is read once more before packing), or is left out with --on-error skip", int('--vocab-size', 1))
    .option('--strict', 'no packs (empty input, or --packed-length above all the data) is an error (exit 2), not a warning')
    .option('--cache-dir <dir>', 'binary token sidecars of the .bin files, built on the first run (default: $WEFT_CACHE_DIR, $XDG_CACHE_HOME/weft or ~/.cache/weft)')
    .option('--no-cache', 'parse the .bin JSON on every run; write no sidecar')
    .option('--quiet', 'no progress bar')
    .requiredOption('--out <dir>', 'the datasets folder to write (a new or empty folder)')
    .option('--overwrite', 'replace an earlier weft output at --out (never a folder weft did not write)')
    .action(async (folder: string, o: { packedLength: number; seed: number; minLength: number; dataOrder?: string; maxShardSize: number; workers: number; onError: 'fail' | 'skip'; vocabSize?: number; strict?: boolean; cacheDir?: string; cache: boolean; quiet?: boolean; out: string; overwrite?: boolean }) => {
      const { checkOutputDir } = await import('@weft/core');
      const output = { command: 'pack', inputs: [folder, o.dataOrder], overwrite: Boolean(o.overwrite) };
      checkOutputDir(o.out, output); // before any work
      const { PackedDataset } = await import('./packed-dataset.ts');
      const { writePackedDataset } = await import('./pack-job.ts');
      const { checkedBinFolder } = await import('./checked-bin-sources.ts');
      const { defaultCacheDir } = await import('./token-cache.ts');
      const { sources, lines, kept, skipped } = await checkedBinFolder(folder, {
        minLength: o.minLength, onError: o.onError, ...(o.dataOrder ? { dataOrderPath: o.dataOrder } : {}), ...(o.vocabSize !== undefined ? { vocabSize: o.vocabSize } : {}),
        ...(o.cache ? { cacheDir: o.cacheDir ?? defaultCacheDir() } : {}),
      });
      const ds = PackedDataset.fromBinSources(sources, { packedLength: o.packedLength, seed: o.seed, minLength: o.minLength });
      // Before writing: with --strict an empty result is an error, and nothing is replaced.
      checkOutputNotEmpty({ input: folder, read: lines, kept, packs: ds.length, tokens: ds.files.reduce((a, f) => a + f.plan.numTokens, 0), packedLength: o.packedLength }, { strict: o.strict });
      const stats = await writePackedDataset(ds, o.out, {
        progress: !o.quiet, maxShardBytes: o.maxShardSize, workers: o.workers, extraStats: { lines, kept, skipped },
        config: { packed_length: o.packedLength, seed: o.seed, min_length: o.minLength, on_error: o.onError }, output,
      });
      process.stdout.write(`${JSON.stringify({ out: o.out, ...stats }, null, 2)}\n`);
    });

  program
    .command('process')
    .description('The offline job: read, template and tokenize every file (or read tokenized .bin), write a DatasetDict of samples (<out>/samples, one split per file) and optionally the xtuner-packed dataset (<out>/packed); resumable: rerun after a crash to finish, with identical bytes')
    .argument('<folder>', 'input folder (files taken in data order) or one file', existingPath('<folder>'))
    .requiredOption('--format <name>', 'input format: ftdp, internlm, openai, alpaca, conversation, pretrain', oneOf('--format', ['ftdp', 'internlm', 'openai', 'alpaca', 'conversation', 'pretrain'] as const))
    .option('--tokenizer <dir|id>', "tokenizer: 'default' (embedded), a folder, or a hub id", 'default')
    .option('--template <name>', "prompt template, or 'chat_template' for the tokenizer's own", DEFAULT_TEMPLATE)
    .option('--max-length <n>', 'truncate samples to this many tokens', int('--max-length', 1), 32768)
    .option('--pack', 'also write the length-seeded packed dataset')
    .option('--packed-length <n>', 'tokens per pack', int('--packed-length', 1), 8192)
    .option('--seed <n>', 'shuffle seed of the packing', SEED, 1024)
    .option('--min-length <n>', 'internlm format: drop samples with fewer tokens', int('--min-length'), 0)
    .option('--workers <n>', 'encoder / packing threads, by default one per core (0 encodes in the main thread); output identical for any count', WORKERS, DEFAULT_WORKERS)
    .option('--on-error <mode>', 'bad records: fail, or skip and count them', oneOf('--on-error', ['fail', 'skip'] as const), 'fail')
    .option('--vocab-size <n>', "the model's vocabulary size: a sample with a token id at or above it fails naming file and line, or is skipped with --on-error skip (default: the tokenizer's, added tokens included; internlm input: no check)", int('--vocab-size', 1))
    .option('--max-record-bytes <n>', 'largest record (line, JSON array element, .bin line) to read: a larger one fails, or is skipped with --on-error skip (a number, or e.g. 64MiB; default 256 MiB)', byteSize('--max-record-bytes', { min: 1 }))
    .option('--strict', 'an empty result (no records, or no packs with --pack) is an error (exit 2), not a warning')
    .option('--file-type <suffix>', 'file suffix to look for (default by format: .json ftdp/alpaca, .jsonl openai/conversation, .txt pretrain, .bin internlm)')
    .option('--data-order <file>', 'data_order.txt listing the input files', existingPath('--data-order', 'file'))
    .option('--max-shard-size <bytes>', 'bytes per Arrow shard (a number, or e.g. 500MB, 1GiB)', byteSize('--max-shard-size', { min: 1 }), 500 << 20)
    .option('--cache-dir <dir>', 'internlm --pack: binary token sidecars of the .bin files (default as for `weft pack`)')
    .option('--no-cache', 'internlm --pack: write no token sidecar')
    .option('--quiet', 'no progress on stderr (a bar on a terminal, else a line every WEFT_PROGRESS_INTERVAL seconds, default 10)')
    .requiredOption('--out <dir>', 'output folder (a new or empty folder, or an earlier process output to resume)')
    .option('--overwrite', 'replace an earlier weft output at --out made with other settings (never a folder weft did not write)')
    .action(async (folder: string, o: Record<string, unknown>) => {
      const { runProcess } = await import('./process.ts');
      const summary = await runProcess({
        input: folder, format: o.format as never, tokenizer: o.tokenizer as string, template: o.template as string, maxLength: o.maxLength as number,
        pack: Boolean(o.pack), packedLength: o.packedLength as number, seed: o.seed as number, minLength: o.minLength as number,
        workers: o.workers as number, onError: o.onError as 'fail' | 'skip', out: o.out as string, maxShardBytes: o.maxShardSize as number,
        progress: !o.quiet, overwrite: Boolean(o.overwrite),
        cacheDir: o.cache ? (o.cacheDir as string | undefined) ?? (await import('./token-cache.ts')).defaultCacheDir() : undefined,
        ...(o.maxRecordBytes !== undefined ? { maxRecordBytes: o.maxRecordBytes as number } : {}),
        ...(o.vocabSize !== undefined ? { vocabSize: o.vocabSize as number } : {}),
        ...(o.fileType ? { fileType: o.fileType as string } : {}), ...(o.dataOrder ? { dataOrderPath: o.dataOrder as string } : {}),
      });
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      checkOutputNotEmpty({ input: folder, read: summary.read, kept: summary.kept, packs: summary.packs, tokens: summary.tokens, packedLength: summary.packed_length }, { strict: Boolean(o.strict) });
    });

  program
    .command('inspect')
    .description('Show a pack or sample of an Arrow datasets folder or a .bin folder, loss-masked tokens marked (grey on a TTY, [brackets] otherwise), with a length histogram and pack utilisation')
    .argument('<path>', 'Arrow datasets folder (Dataset or DatasetDict) or folder of .bin files', existingPath('<path>'))
    .option('--index <n>', 'row / sample to show', int('--index'), 0)
    .option('--split <name>', 'DatasetDict split (default: the first)')
    .option('--tokenizer <dir|id>', 'decode tokens with this tokenizer')
    .option('--packed-length <n>', '.bin folders: pack length for the utilisation figure', int('--packed-length', 1), 8192)
    .option('--max-tokens <n>', 'show at most this many tokens', int('--max-tokens', 1), 400)
    .option('--no-color', 'brackets instead of colour even on a TTY')
    .action(async (path: string, o: { index: number; split?: string; tokenizer?: string; packedLength: number; maxTokens: number; color: boolean }) => {
      const { inspect } = await import('./inspect.ts');
      process.stdout.write(await inspect(path, {
        index: o.index, packedLength: o.packedLength, maxTokens: o.maxTokens, color: o.color && Boolean(process.stdout.isTTY),
        ...(o.split ? { split: o.split } : {}), ...(o.tokenizer ? { tokenizer: o.tokenizer } : {}),
      }));
    });
}
