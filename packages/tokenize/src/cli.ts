import type { Command } from 'commander';
import {
  byteSize,
  checkOutputDir,
  checkOutputNotEmpty,
  decimal,
  DEFAULT_TEMPLATE,
  existingPath,
  integer,
  oneOf,
  onErrorOption,
  tokenizerOption,
  UsageError,
  workersOption,
  type OnError,
} from '@weft/core';
import { checkBinOutput } from './bin-output.ts';
import { FORMATS, type DatasetFormat } from './formats.ts';
import { dataKindWarning, datasetToBin, textToBin, type BinSummary } from './internlm-tokenize.ts';
import { PROMPT_TEMPLATES } from './templates.ts';
import { loadTokenizer, type Backend } from './tokenizer.ts';

function printSummary(s: BinSummary): void {
  const skipped = Object.entries(s.skipped)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  process.stdout.write(
    `${s.path}: ${s.lines} lines, ${s.tokens} tokens, ${s.bytes} bytes${skipped ? ` (skipped/dropped — ${skipped})` : ''}\n`,
  );
}

/** Warn (or with --strict fail) when nothing was written; a split's train and valid come from one input and share its skipped counts. */
function checkWritten(written: BinSummary[], input: string, strict: boolean): void {
  const kept = written.reduce((a, s) => a + s.lines, 0);
  const left = Object.values(written[0]?.skipped ?? {}).reduce((a, b) => a + b, 0);
  checkOutputNotEmpty({ input, read: kept + left, kept }, { strict });
}

/** Add this package's subcommands to the `weft` program. */
export function registerCommands(program: Command): void {
  program
    .command('list-formats')
    .description('List the dataset formats weft reads, with an example line each')
    .action(() => {
      for (const f of FORMATS) process.stdout.write(`${f.name}\n  ${f.description}\n  e.g. ${f.example}\n`);
    });

  program
    .command('list-templates')
    .description(
      "List xtuner's prompt templates (use with --template; 'chat_template' uses the tokenizer's own Jinja template)",
    )
    .option('--json', 'print the templates as JSON')
    .action((o: { json?: boolean }) => {
      if (o.json) {
        process.stdout.write(`${JSON.stringify(PROMPT_TEMPLATES, null, 2)}\n`);
        return;
      }
      for (const [name, t] of Object.entries(PROMPT_TEMPLATES)) {
        process.stdout.write(`${name}\n  INSTRUCTION ${JSON.stringify(t.INSTRUCTION)}\n`);
        if (t.SYSTEM !== undefined) process.stdout.write(`  SYSTEM ${JSON.stringify(t.SYSTEM)}\n`);
        if (t.SUFFIX)
          process.stdout.write(`  SUFFIX ${JSON.stringify(t.SUFFIX)}  SUFFIX_AS_EOS ${t.SUFFIX_AS_EOS ?? false}\n`);
        if (t.SEP) process.stdout.write(`  SEP ${JSON.stringify(t.SEP)}\n`);
      }
      process.stdout.write(
        "chat_template\n  the tokenizer's own Jinja chat_template (assistant replies get the loss)\n",
      );
    });

  program
    .command('tokenize')
    .description(
      'InternLM tools/tokenizer.py: text (.txt/.json/.jsonl) → <root>/<cn|en|code|ja|ar|kaoshi>/<name>.bin + .bin.meta (BOS+EOS per document). ' +
        'With --format (ftdp, openai, alpaca, conversation, pretrain): templated samples with loss masks as negative tokens; ' +
        "with --split-ratio, alpaca_tokenizer.py's train/ and valid/ sets under the output folder.",
    )
    .requiredOption(
      '--text-input-path <file>',
      'input file (.txt, .json or .jsonl)',
      existingPath('--text-input-path', 'file'),
    )
    .requiredOption('--bin-output-path <path>', 'output .bin (or, with --split-ratio, the output folder)')
    .addOption(tokenizerOption())
    .option(
      '--backend <b>',
      'auto | fast | native | js | sentencepiece (auto: the fast BPE encoder where it covers the tokenizer and passes its equality gate, else native; sentencepiece for a folder with only tokenizer.model)',
      oneOf('--backend', ['auto', 'fast', 'native', 'js', 'sentencepiece'] as const),
      'auto',
    )
    .option('--text-field <name>', 'JSON field with the text (.json/.jsonl without --format)', 'text')
    .option(
      '--internlm-compat',
      "tokenize whole JSON records like InternLM's tool (json.dumps(record) for .json, raw lines for .jsonl)",
    )
    .option(
      '--format <format>',
      `dataset format: ${FORMATS.map((f) => f.name).join(', ')}`,
      oneOf(
        '--format',
        FORMATS.map((f) => f.name),
      ),
    )
    .option('--template <name>', 'prompt template (weft list-templates) or chat_template', DEFAULT_TEMPLATE)
    .option(
      '--max-length <n>',
      'truncate samples to this many tokens (--format only)',
      integer('--max-length', { min: 1 }),
    )
    .option(
      '--split-ratio <r>',
      'validation share, split like alpaca_tokenizer.py (--format only)',
      decimal('--split-ratio', { min: 0, max: 1 }),
    )
    .addOption(
      workersOption(
        'encoding worker threads, by default one per core (0: in this thread); output is identical for any count',
      ),
    )
    .addOption(onErrorOption('fail | skip (count bad records and go on)'))
    .option(
      '--max-record-bytes <bytes>',
      'largest record (line, or JSON array element) to read: a larger one fails, or is skipped with --on-error skip (a number, or e.g. 64MiB; default 256 MiB)',
      byteSize('--max-record-bytes', { min: 1 }),
    )
    .option('--strict', 'an empty result (no records in the input, or all skipped) is an error (exit 2), not a warning')
    .option(
      '--overwrite',
      'replace an existing output .bin/.bin.meta (with --split-ratio: an earlier weft output folder; never one weft did not write)',
    )
    .option(
      '--quiet',
      'no progress on stderr (a bar on a terminal, else a line every WEFT_PROGRESS_INTERVAL seconds, default 10)',
    )
    .action(
      async (o: {
        textInputPath: string;
        binOutputPath: string;
        tokenizer: string;
        backend: string;
        textField: string;
        internlmCompat?: boolean;
        format?: string;
        template: string;
        maxLength?: number;
        splitRatio?: number;
        workers: number;
        onError: string;
        strict?: boolean;
        overwrite?: boolean;
        quiet?: boolean;
        maxRecordBytes?: number;
      }) => {
        // The output is checked before any work (the tokenizer may take a while to load).
        if (o.format && o.splitRatio !== undefined)
          checkOutputDir(o.binOutputPath, {
            command: 'tokenize',
            inputs: [o.textInputPath],
            overwrite: Boolean(o.overwrite),
            option: '--bin-output-path',
          });
        else await checkBinOutput(o.textInputPath, o.binOutputPath, { overwrite: Boolean(o.overwrite) });
        const tokenizer = await loadTokenizer(o.tokenizer, { backend: o.backend as 'auto' | Backend });
        const onError = o.onError as OnError;
        const progress = !o.quiet;
        if (o.format) {
          const opts: Parameters<typeof datasetToBin>[2] = {
            format: o.format as DatasetFormat,
            tokenizer,
            template: o.template,
            workers: o.workers,
            onError,
            progress,
            overwrite: Boolean(o.overwrite),
          };
          if (o.maxLength !== undefined) opts.maxLength = o.maxLength;
          if (o.maxRecordBytes !== undefined) opts.maxRecordBytes = o.maxRecordBytes;
          if (o.splitRatio !== undefined) opts.splitRatio = o.splitRatio;
          const written = await datasetToBin(o.textInputPath, o.binOutputPath, opts);
          for (const s of written) printSummary(s);
          checkWritten(written, o.textInputPath, Boolean(o.strict));
          return;
        }
        if (o.splitRatio !== undefined) throw new UsageError('--split-ratio needs --format (e.g. --format alpaca)');
        if (o.maxLength !== undefined)
          throw new UsageError("--max-length needs --format (InternLM's plain-text tokenizer keeps whole documents)");
        const warn = dataKindWarning(o.binOutputPath);
        if (warn) process.stderr.write(`${warn}\n`);
        const opts: Parameters<typeof textToBin>[2] = {
          tokenizer,
          textField: o.textField,
          workers: o.workers,
          onError,
          progress,
          overwrite: Boolean(o.overwrite),
        };
        if (o.internlmCompat) opts.internlmCompat = true;
        if (o.maxRecordBytes !== undefined) opts.maxRecordBytes = o.maxRecordBytes;
        const written = await textToBin(o.textInputPath, o.binOutputPath, opts);
        printSummary(written);
        checkWritten([written], o.textInputPath, Boolean(o.strict));
        process.stdout.write(
          `${o.binOutputPath}: written atomically (InternLM's tool would append to an existing one)\n`,
        );
      },
    );
}
