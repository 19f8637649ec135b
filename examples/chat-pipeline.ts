/**
 * A chat-data pipeline composed from the library's stages — what `weft process` does, written
 * out so each step can be swapped or extended: list the files in data order (@weft/order), read
 * the records (@weft/tokenize), apply a prompt template, tokenize with loss masks, and pack
 * (@weft/pack).
 *
 *   npx tsx examples/chat-pipeline.ts data/sample/ftdp --template internlm2_chat --packed-length 1024
 *
 * prints one JSON summary: samples, packs, tokens, and each stage's counters.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  collect,
  pipe,
  tap,
  type Conversation,
  type Pack,
  type Sample,
  type StageStats,
  type TextDoc,
} from '@weft/core';
import { dataOrder } from '@weft/order';
import { encode, loadTokenizer, readDataset, templateMap, type DatasetFormat, type Tokenizer } from '@weft/tokenize';
import { packStreaming } from '@weft/pack';

export interface ChatPipelineOptions {
  /** Folder of dataset files. */
  dataDir: string;
  /** Record format (`weft list-formats`). Default ftdp. */
  format?: DatasetFormat;
  /** Which files to read. Default `.json`. */
  fileType?: string;
  /** Prompt template (`weft list-templates`). Default internlm2_chat. */
  template?: string;
  /** A loaded tokenizer; default: the embedded one. */
  tokenizer?: Tokenizer;
  /** Truncate samples to this many tokens. */
  maxLength?: number;
}

/** Every record of every file, files in xtuner's data order; the readers' counters are merged. */
function readAll(
  dataDir: string,
  files: string[],
  format: DatasetFormat,
  stats: StageStats[],
): AsyncIterable<Conversation | TextDoc> {
  return (async function* () {
    for (const f of files) {
      const records = readDataset(join(dataDir, f), format);
      stats.push(records.stats);
      yield* records;
    }
  })();
}

/**
 * The samples (`input_ids` + `labels`) of a chat dataset, in data order, with the counters of
 * each stage once the stream is drained.
 *
 * @example
 * const { samples, stats } = await chatSamples({ dataDir: 'data/sample/ftdp' });
 * for await (const s of samples) console.log(s.input_ids.length);
 */
export async function chatSamples(
  opts: ChatPipelineOptions,
): Promise<{ samples: AsyncIterable<Sample>; stats: () => object[] }> {
  const tokenizer = opts.tokenizer ?? (await loadTokenizer('default'));
  const files = await dataOrder(opts.dataDir, { fileType: opts.fileType ?? '.json' });
  const readers: StageStats[] = [];
  const template = templateMap(opts.template ?? 'internlm2_chat');
  const enc = encode({ tokenizer, maxLength: opts.maxLength });
  const samples = pipe(readAll(opts.dataDir, files, opts.format ?? 'ftdp', readers), template, enc);
  return { samples, stats: () => [...readers.map((s) => s.toJSON()), template.stats.toJSON(), enc.stats.toJSON()] };
}

/**
 * The same samples packed into `packedLength`-token packs (xtuner's streaming `Packer`); the
 * samples are also handed to `onSample` on their way through, for checks or statistics.
 *
 * @example
 * const { packs } = await chatPipeline({ dataDir: 'data/sample/ftdp', packedLength: 1024 });
 */
export async function chatPipeline(
  opts: ChatPipelineOptions & { packedLength: number; onSample?: (s: Sample) => void },
): Promise<{ packs: Pack[]; stats: object[] }> {
  const { samples, stats } = await chatSamples(opts);
  const packs = await collect(
    pipe(
      samples,
      tap<Sample>((s) => opts.onSample?.(s)),
      packStreaming({ packedLength: opts.packedLength }),
    ),
  );
  return { packs, stats: stats() };
}

async function main(argv: string[]): Promise<void> {
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const dataDir = argv[0];
  if (!dataDir || dataDir.startsWith('-')) {
    process.stderr.write(
      'usage: npx tsx examples/chat-pipeline.ts <folder> [--format ftdp] [--template internlm2_chat] [--packed-length N] [--max-length N]\n',
    );
    process.exit(2);
  }
  let samples = 0;
  const { packs, stats } = await chatPipeline({
    dataDir,
    format: (flag('--format') ?? 'ftdp') as DatasetFormat,
    template: flag('--template'),
    maxLength: flag('--max-length') ? Number(flag('--max-length')) : undefined,
    packedLength: Number(flag('--packed-length') ?? 1024),
    onSample: () => {
      samples++;
    },
  });
  const tokens = packs.reduce((n, p) => n + p.input_ids.length, 0);
  process.stdout.write(`${JSON.stringify({ samples, packs: packs.length, tokens, stats }, null, 2)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
