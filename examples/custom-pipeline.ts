/**
 * A custom pipeline written with weft's library API instead of the `weft` CLI: read an InternLM
 * tokenized `.bin` folder in data order, turn lines into samples, drop the ones without any loss
 * token, and pack them xtuner-`Packer` style. Every step is a stage — a function from
 * one async iterable to another — so adding your own is writing one function.
 *
 *   npx tsx examples/custom-pipeline.ts data/sample/tokenized --packed-length 512
 *
 * prints one JSON summary: packs, tokens, and what each stage saw, emitted and rejected.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  IGNORE_INDEX,
  collect,
  defineStage,
  fromIterable,
  fromSignedTokens,
  map,
  pipe,
  type Pack,
  type Sample,
} from '@weft/core';
import { dataOrder, internlmBinReader, type TokenRecord } from '@weft/order';
import { packStreaming } from '@weft/pack';

export interface CustomPipelineOptions {
  /** Folder of `.bin` files with their `.bin.meta`. */
  dataDir: string;
  /** Tokens per pack. */
  packedLength: number;
  /** Skip lines shorter than this (read from the `.meta`, the line itself is never parsed). */
  minLength?: number;
}

export interface CustomPipelineResult {
  packs: Pack[];
  /** Per-stage counters, in pipeline order. */
  stats: { name: string; seen: number; emitted: number; rejected: Record<string, number> }[];
}

/** InternLM marks no-loss tokens by negating them (token 0 never has a loss): split a line into ids and labels. */
export const toSample = map<TokenRecord, Sample>(({ tokens, source }) => ({ ...fromSignedTokens(tokens), source }));

/** A custom counted stage: samples that teach nothing (no loss token) are dropped and counted. */
export function dropNoLoss() {
  return defineStage<Sample, Sample>('drop-no-loss', async function* (src, ctx) {
    for await (const s of src) {
      if (s.labels.some((l) => l !== IGNORE_INDEX)) yield s;
      else ctx.drop('no-trainable-token');
    }
  });
}

/**
 * Run the pipeline and keep the packs in memory (fine for a sample; a real job would stream them
 * into a writer instead of `collect`).
 *
 * @example
 * const { packs, stats } = await customPipeline({ dataDir: 'data/sample/tokenized', packedLength: 512 });
 */
export async function customPipeline(opts: CustomPipelineOptions): Promise<CustomPipelineResult> {
  const read = internlmBinReader({ minLength: opts.minLength ?? 0 });
  const noLoss = dropNoLoss();
  const packs = await collect(
    pipe(
      // xtuner's data order: a directory's own files (sorted as Python sorts), then its subdirectories.
      fromIterable((await dataOrder(opts.dataDir, { fileType: '.bin' })).map((f) => join(opts.dataDir, f))),
      read,
      toSample,
      noLoss,
      packStreaming({ packedLength: opts.packedLength }),
    ),
  );
  return { packs, stats: [read.stats.toJSON(), noLoss.stats.toJSON()] };
}

async function main(argv: string[]): Promise<void> {
  const dataDir = argv[0];
  const flag = (name: string, dflt?: number): number | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  if (!dataDir || dataDir.startsWith('-')) {
    process.stderr.write(
      'usage: npx tsx examples/custom-pipeline.ts <bin-folder> [--packed-length N] [--min-length N]\n',
    );
    process.exit(2);
  }
  const { packs, stats } = await customPipeline({
    dataDir,
    packedLength: flag('--packed-length', 512)!,
    minLength: flag('--min-length'),
  });
  const tokens = packs.reduce((n, p) => n + p.input_ids.length, 0);
  const lossTokens = packs.reduce((n, p) => n + p.labels.filter((l) => l !== IGNORE_INDEX).length, 0);
  process.stdout.write(`${JSON.stringify({ packs: packs.length, tokens, lossTokens, stats }, null, 2)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
