import type { Command } from 'commander';
import type { ProcessSummary } from './process.ts';
import {
  byteSize,
  checkOutputDir,
  checkOutputNotEmpty,
  DEFAULT_MAX_LENGTH,
  DEFAULT_TEMPLATE,
  existingPath,
  integer,
  oneOf,
  UsageError,
  onErrorOption,
  packedLengthOption,
  seedOption,
  tokenizerOption,
  workersOption,
} from '@weft/core';

// Token counts and indices are int32 in the Arrow columns; a seed is numpy's uint32.
const int = (name: string, min = 0, max = 2 ** 31 - 1): ((v: string) => number) => integer(name, { min, max });

/** Warn on stderr about an empty result (no records, or no packs); `--strict` makes it a data error (exit 2). */
function warnIfEmpty(
  s: {
    read?: number;
    kept?: number;
    lines?: number;
    packs: number | null;
    tokens: number;
    packed_length: number | null;
  },
  input: string,
  strict: boolean,
): void {
  checkOutputNotEmpty(
    {
      input,
      read: s.read ?? s.lines ?? 0,
      kept: s.kept ?? 0,
      packs: s.packs,
      tokens: s.tokens,
      packedLength: s.packed_length,
    },
    { strict },
  );
}

/** Say on stderr which input files gave an empty split (`weft process` summaries only). */
async function noteEmptySplits(s: object): Promise<void> {
  if (!('empty_splits' in s) || !Array.isArray(s.empty_splits)) return;
  const { emptySplitsNote } = await import('./process.ts');
  const note = emptySplitsNote(s as Pick<ProcessSummary, 'files' | 'empty_splits'>);
  if (note) process.stderr.write(`${note}\n`);
}

/** Add this package's subcommands (`pack`, `process`, `inspect`) to the `weft` program. */
export function registerCommands(program: Command): void {
  program
    .command('pack')
    .description(
      'Pack a folder of InternLM tokenized .bin/.bin.meta files as xtuner does (length-seeded, per file, in data order) into an Arrow datasets folder with input_ids, labels, cumulative_len, position_ids (one row per pack)',
    )
    .argument('<bin-folder>', 'folder of .bin files with their .bin.meta', existingPath('<bin-folder>', 'dir'))
    .addOption(packedLengthOption('tokens per pack', null))
    .addOption(seedOption())
    .option('--min-length <n>', 'drop samples with fewer tokens (xtuner min_length)', int('--min-length'), 0)
    .option(
      '--data-order <file>',
      "data_order.txt listing the .bin files (default: weft's deterministic walk)",
      existingPath('--data-order', 'file'),
    )
    .option(
      '--max-shard-size <bytes>',
      'bytes per Arrow shard (a number, or e.g. 500MB, 1GiB)',
      byteSize('--max-shard-size', { min: 1 }),
      500 << 20,
    )
    .addOption(workersOption('threads building packs (output identical for any count)', 0))
    .addOption(onErrorOption('bad lines: fail, or skip and count them (reads every line once more before packing)'))
    .option(
      '--vocab-size <n>',
      "the model's vocabulary size: a line with a token id at or above it fails naming file and line (every line is read once more before packing), or is left out with --on-error skip",
      int('--vocab-size', 1),
    )
    .option(
      '--strict',
      'no packs (empty input, or --packed-length above all the data) is an error (exit 2), not a warning',
    )
    .option(
      '--split-bytes <bytes>',
      'consecutive .bin files are grouped into units of this many bytes (e.g. 256MiB), each starting a new Arrow file (the pieces shards share)',
      byteSize('--split-bytes', { min: 1 }),
      256 << 20,
    )
    .option(
      '--shard <I/N|auto>',
      'pack task I of N (0-based) into <out>/shards; auto: from Slurm array, Kubernetes Indexed Job or torchrun variables; then weft merge <out>',
    )
    .option(
      '--num-shards <n>',
      'task count for --shard auto under a Kubernetes Indexed Job, or a Slurm rerun of some tasks',
      int('--num-shards', 1),
    )
    .option('--merge', 'with --shard: merge when this task finds every shard complete')
    .option(
      '--cache-dir <dir>',
      'binary token sidecars of the .bin files, built on the first run (default: $WEFT_CACHE_DIR, $XDG_CACHE_HOME/weft or ~/.cache/weft)',
    )
    .option('--no-cache', 'parse the .bin JSON on every run; write no sidecar')
    .option(
      '--quiet',
      'no progress on stderr (a bar on a terminal, else a line every WEFT_PROGRESS_INTERVAL seconds, default 10)',
    )
    .requiredOption(
      '--out <dir>',
      'the datasets folder to write (a new or empty folder; with --shard, the folder every task of the job shares)',
    )
    .option(
      '--overwrite',
      'replace an earlier weft output at --out (never a folder weft did not write; with --shard, never a finished shard of this same job)',
    )
    .action(
      async (
        folder: string,
        o: {
          packedLength: number;
          seed: number;
          minLength: number;
          dataOrder?: string;
          maxShardSize: number;
          workers: number;
          onError: 'fail' | 'skip';
          vocabSize?: number;
          strict?: boolean;
          splitBytes: number;
          cacheDir?: string;
          cache: boolean;
          shard?: string;
          numShards?: number;
          merge?: boolean;
          quiet?: boolean;
          out: string;
          overwrite?: boolean;
        },
      ) => {
        const { runPack, runPackShard } = await import('./pack-shard.ts');
        const { defaultCacheDir } = await import('@weft/pack');
        const opts = {
          folder,
          packedLength: o.packedLength,
          seed: o.seed,
          minLength: o.minLength,
          maxShardBytes: o.maxShardSize,
          workers: o.workers,
          onError: o.onError,
          strict: Boolean(o.strict),
          ...(o.vocabSize !== undefined ? { vocabSize: o.vocabSize } : {}),
          overwrite: Boolean(o.overwrite),
          splitBytes: o.splitBytes,
          progress: !o.quiet,
          out: o.out,
          ...(o.dataOrder ? { dataOrderPath: o.dataOrder } : {}),
          ...(o.cache ? { cacheDir: o.cacheDir ?? defaultCacheDir() } : {}),
        };
        if (o.shard === undefined) {
          if (o.merge || o.numShards !== undefined) throw new UsageError('--merge and --num-shards go with --shard');
          checkOutputDir(o.out, { command: 'pack', inputs: [folder, o.dataOrder], overwrite: Boolean(o.overwrite) }); // before any work
          process.stdout.write(`${JSON.stringify({ out: o.out, ...(await runPack(opts)) }, null, 2)}\n`);
          return;
        }
        const { resolveShard } = await import('@weft/pack');
        const shard = resolveShard(o.shard, process.env, o.numShards);
        const m = await runPackShard(opts, shard);
        process.stdout.write(
          `${JSON.stringify({ shard: m.shard, config_hash: m.config_hash, units: m.units.length, ...m.stats, arrow_files: m.arrow.length, seconds: m.seconds }, null, 2)}\n`,
        );
        if (o.merge) {
          const { mergeIfLast } = await import('./merge.ts');
          const r = await mergeIfLast(o.out, { workers: o.workers, progress: !o.quiet });
          if (r.merged) {
            process.stdout.write(`${JSON.stringify(r.result.summary, null, 2)}\n`);
            warnIfEmpty(r.result.summary, o.out, Boolean(o.strict));
          } else process.stderr.write(`pack shard ${shard.index}/${shard.count}: not merging: ${r.reason}\n`);
        }
      },
    );

  program
    .command('process')
    .description(
      'The offline job: read, template and tokenize every file (or read tokenized .bin), write a DatasetDict of samples (<out>/samples, one split per file) and optionally the xtuner-packed dataset (<out>/packed); resumable: rerun after a crash to finish, with identical bytes',
    )
    .argument('<folder>', 'input folder (files taken in data order) or one file', existingPath('<folder>'))
    .requiredOption(
      '--format <name>',
      'input format: ftdp, internlm, openai, alpaca, conversation, pretrain',
      oneOf('--format', ['ftdp', 'internlm', 'openai', 'alpaca', 'conversation', 'pretrain'] as const),
    )
    .addOption(tokenizerOption())
    .option('--template <name>', "prompt template, or 'chat_template' for the tokenizer's own", DEFAULT_TEMPLATE)
    .option('--max-length <n>', 'truncate samples to this many tokens', int('--max-length', 1), DEFAULT_MAX_LENGTH)
    .option('--pack', 'also write the length-seeded packed dataset')
    .addOption(packedLengthOption())
    .addOption(seedOption())
    .option('--min-length <n>', 'internlm format: drop samples with fewer tokens', int('--min-length'), 0)
    .addOption(
      workersOption(
        'encoder / packing threads, by default one per core (0 encodes in the main thread); output identical for any count',
      ),
    )
    .addOption(onErrorOption())
    .option(
      '--vocab-size <n>',
      "the model's vocabulary size: a sample with a token id at or above it fails naming file and line, or is skipped with --on-error skip (default: the tokenizer's, added tokens included; internlm input: no check)",
      int('--vocab-size', 1),
    )
    .option(
      '--max-record-bytes <bytes>',
      'largest record (line, JSON array element, .bin line) to read: a larger one fails, or is skipped with --on-error skip (a number, or e.g. 64MiB; default 256 MiB)',
      byteSize('--max-record-bytes', { min: 1 }),
    )
    .option('--strict', 'an empty result (no records, or no packs with --pack) is an error (exit 2), not a warning')
    .option(
      '--file-type <suffix>',
      'file suffix to look for (default by format: .json ftdp/alpaca, .jsonl openai/conversation, .txt pretrain, .bin internlm)',
    )
    .option('--data-order <file>', 'data_order.txt listing the input files', existingPath('--data-order', 'file'))
    .option(
      '--max-shard-size <bytes>',
      'bytes per Arrow shard (a number, or e.g. 500MB, 1GiB)',
      byteSize('--max-shard-size', { min: 1 }),
      500 << 20,
    )
    .option(
      '--split-bytes <bytes>',
      'line-based files larger than this (e.g. 256MiB) are read in byte ranges cut at line starts (the units shards share)',
      byteSize('--split-bytes', { min: 1 }),
      256 << 20,
    )
    .option(
      '--shard <I/N|auto>',
      'run task I of N (0-based) of a sharded job into <out>/shards; auto: from Slurm array, Kubernetes Indexed Job or torchrun variables',
    )
    .option(
      '--num-shards <n>',
      'task count for --shard auto under a Kubernetes Indexed Job (its completions)',
      int('--num-shards', 1),
    )
    .option('--merge', 'with --shard: merge when this task finds every shard complete (else leave it to weft merge)')
    .option(
      '--cache-dir <dir>',
      'internlm --pack: binary token sidecars of the .bin files (default as for `weft pack`)',
    )
    .option('--no-cache', 'internlm --pack: write no token sidecar')
    .option(
      '--quiet',
      'no progress on stderr (a bar on a terminal, else a line every WEFT_PROGRESS_INTERVAL seconds, default 10)',
    )
    .requiredOption(
      '--out <dir>',
      'output folder (a new or empty folder, or an earlier process output to resume; with --shard, the folder every task of the job shares)',
    )
    .option(
      '--overwrite',
      'replace an earlier weft output at --out made with other settings (never a folder weft did not write; with --shard, never a finished shard of this same job)',
    )
    .action(async (folder: string, o: Record<string, unknown>) => {
      const { runProcess } = await import('./process.ts');
      const opts = {
        input: folder,
        format: o.format as never,
        tokenizer: o.tokenizer as string,
        template: o.template as string,
        maxLength: o.maxLength as number,
        pack: Boolean(o.pack),
        packedLength: o.packedLength as number,
        seed: o.seed as number,
        minLength: o.minLength as number,
        workers: o.workers as number,
        onError: o.onError as 'fail' | 'skip',
        out: o.out as string,
        maxShardBytes: o.maxShardSize as number,
        progress: !o.quiet,
        overwrite: Boolean(o.overwrite),
        cacheDir: o.cache
          ? ((o.cacheDir as string | undefined) ?? (await import('@weft/pack')).defaultCacheDir())
          : undefined,
        ...(o.maxRecordBytes !== undefined ? { maxRecordBytes: o.maxRecordBytes as number } : {}),
        ...(o.vocabSize !== undefined ? { vocabSize: o.vocabSize as number } : {}),
        ...(o.fileType ? { fileType: o.fileType as string } : {}),
        ...(o.dataOrder ? { dataOrderPath: o.dataOrder as string } : {}),
        splitBytes: o.splitBytes as number,
      };
      const strict = Boolean(o.strict);
      if (o.shard === undefined) {
        if (o.merge || o.numShards !== undefined) throw new UsageError('--merge and --num-shards go with --shard');
        const summary = await runProcess(opts);
        process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        await noteEmptySplits(summary);
        warnIfEmpty(summary, folder, strict);
        return;
      }
      if (o.format === 'internlm')
        throw new UsageError(
          '--shard: the internlm format packs .bin files directly and is not sharded; use weft pack --shard, or run weft process without --shard',
        );
      const { resolveShard } = await import('@weft/pack');
      const { runProcessShard } = await import('./shard-run.ts');
      const shard = resolveShard(o.shard as string, process.env, o.numShards as number | undefined);
      const m = await runProcessShard(opts, shard);
      process.stdout.write(
        `${JSON.stringify({ shard: m.shard, config_hash: m.config_hash, ...m.totals, seconds: m.seconds }, null, 2)}\n`,
      );
      if (o.merge) {
        const { mergeIfLast } = await import('./merge.ts');
        const r = await mergeIfLast(o.out as string, { workers: o.workers as number, progress: !o.quiet });
        if (r.merged) {
          process.stdout.write(`${JSON.stringify(r.result.summary, null, 2)}\n`);
          await noteEmptySplits(r.result.summary);
          warnIfEmpty(r.result.summary, folder, strict);
        } else process.stderr.write(`shard ${shard.index}/${shard.count}: not merging: ${r.reason}\n`);
      }
    });

  program
    .command('merge')
    .description(
      'Make the shards of a sharded weft process or weft pack (<out>/shards) one dataset: check that every shard completed with the same config, hard-link their Arrow files into place (no copy), pack if the job packs; the result is byte-identical to a single-process run',
    )
    .argument('<out>', 'the --out folder the shards wrote', existingPath('<out>', 'dir'))
    .addOption(workersOption('packing threads (output identical for any count)', 0))
    .option('--verify', 'also reread every shard Arrow file and check its SHA-256 against the shard marker')
    .option('--strict', 'an empty result (no records, or no packs) is an error (exit 2), not a warning')
    .option('--quiet', 'no progress on stderr')
    .action(async (out: string, o: { workers: number; verify?: boolean; strict?: boolean; quiet?: boolean }) => {
      const { mergeShards } = await import('./merge.ts');
      const r = await mergeShards(out, { workers: o.workers, progress: !o.quiet, verify: Boolean(o.verify) });
      process.stdout.write(`${JSON.stringify(r.summary, null, 2)}\n`);
      await noteEmptySplits(r.summary);
      warnIfEmpty(r.summary, out, Boolean(o.strict));
    });

  program
    .command('inspect')
    .description(
      'Show a pack or sample of an Arrow datasets folder or a .bin folder, loss-masked tokens marked (grey on a TTY, [brackets] otherwise), with a length histogram and pack utilisation',
    )
    .argument(
      '<path>',
      'Arrow datasets folder (Dataset or DatasetDict) or folder of .bin files',
      existingPath('<path>'),
    )
    .option('--index <n>', 'row / sample to show', int('--index'), 0)
    .option('--split <name>', 'DatasetDict split (default: the first)')
    .addOption(tokenizerOption('decode tokens with this tokenizer', null))
    .addOption(packedLengthOption('.bin folders: pack length for the utilisation figure'))
    .option('--max-tokens <n>', 'show at most this many tokens', int('--max-tokens', 1), 400)
    .option('--no-color', 'brackets instead of colour even on a TTY')
    .action(
      async (
        path: string,
        o: {
          index: number;
          split?: string;
          tokenizer?: string;
          packedLength: number;
          maxTokens: number;
          color: boolean;
        },
      ) => {
        const { inspect } = await import('@weft/pack');
        // The tokenizer is the command's business; inspect itself only needs a decode function.
        const tok = o.tokenizer ? await (await import('@weft/tokenize')).loadTokenizer(o.tokenizer) : undefined;
        process.stdout.write(
          await inspect(path, {
            index: o.index,
            packedLength: o.packedLength,
            maxTokens: o.maxTokens,
            color: o.color && Boolean(process.stdout.isTTY),
            ...(o.split ? { split: o.split } : {}),
            ...(tok ? { decode: (ids: Int32Array) => tok.decode(ids) } : {}),
          }),
        );
      },
    );
}
