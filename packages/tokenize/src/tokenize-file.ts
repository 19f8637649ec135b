import { batch, DEFAULT_TEMPLATE, defineStage, mapConcurrent, parallelMap, type OnError, type Sample, type StageStats } from '@weft/core';
import type { ByteRange } from '@weft/order';
import { encodePrepared } from './encode.ts';
import type { EncodeWorkerInit } from './encode-worker.ts';
import { readDataset, type DatasetFormat } from './formats.ts';
import { chatTemplateMap } from './chat-template.ts';
import { templateMap, type Prepared } from './template-map.ts';
import type { PromptTemplate } from './templates.ts';
import type { Tokenizer } from './tokenizer.ts';

/** Options for {@link tokenizeFile}. */
export interface TokenizeFileOptions {
  format: DatasetFormat;
  tokenizer: Tokenizer;
  /** A PROMPT_TEMPLATE name or object, or 'chat_template' for the tokenizer's own Jinja template (default: core's DEFAULT_TEMPLATE, internlm2_chat). */
  template?: string | PromptTemplate;
  maxLength?: number;
  /**
   * Worker threads that encode; 0 encodes in this thread (no tokenizer reload; the native backend
   * still uses its own threads). Output is the same for any count.
   */
  workers?: number;
  /** Records per batch handed to a worker: larger amortises messaging, costs memory. */
  batchSize?: number;
  onError?: OnError;
  /** Read only this byte range of a line-based file (a shard's slice, cut at line starts). */
  range?: ByteRange;
}

/** The samples of one file, with the counters of every stage (read lines, map format, template, encode). */
export type TokenizedStream = AsyncIterable<Sample> & { readonly stats: StageStats[] };

/**
 * read → map → template → encode for one file, the encoding spread over worker threads by core
 * `parallelMap` (order-preserving, so any worker count gives the same samples).
 *
 * @example
 * const tok = await loadTokenizer('default');
 * const samples = tokenizeFile('data/sample/ftdp/a.json', { format: 'ftdp', tokenizer: tok, template: 'internlm2_chat', maxLength: 2048, workers: 2 });
 * for await (const s of samples) console.log(s.input_ids.length);
 * console.log(samples.stats.map((s) => s.toJSON()));
 */
export function tokenizeFile(file: string, options: TokenizeFileOptions): TokenizedStream {
  const onError = options.onError ?? 'fail';
  // Checked here, not deep in a worker: NaN or -5 would otherwise truncate every sample to nothing or throw a RangeError per batch.
  if (options.maxLength !== undefined && (!Number.isInteger(options.maxLength) || options.maxLength < 1)) throw new RangeError(`maxLength must be a positive integer, got ${options.maxLength}`);
  const read = readDataset(file, options.format, { onError, ...(options.range ? { range: options.range } : {}) });
  const tpl = options.template ?? DEFAULT_TEMPLATE;
  const mapStage = tpl === 'chat_template'
    ? chatTemplateMap(options.tokenizer, { onError })
    : templateMap(tpl, { onError });
  const init: EncodeWorkerInit = { spec: options.tokenizer.spec };
  if (options.maxLength !== undefined) init.maxLength = options.maxLength;
  const workers = options.workers ?? 0;
  const tok = options.tokenizer;
  // In this thread, two batches in flight overlap reading/templating with the native encoder's own threads.
  const encodeBatches = workers === 0
    ? mapConcurrent((b: Prepared[]) => encodePrepared(tok, b, options.maxLength), { concurrency: 2 })
    : parallelMap<Prepared[], (Sample | null)[], EncodeWorkerInit>({
      module: new URL('./encode-worker.ts', import.meta.url), name: 'createEncoder', init, workers,
    });
  const enc = defineStage<Prepared[], Sample>('encode', async function* (src, ctx) {
    for await (const out of encodeBatches(src)) {
      ctx.stats.seen += out.length - 1; // counted per record, not per batch
      for (const s of out) {
        if (s) yield s;
        else ctx.drop('empty');
      }
    }
  }, { onError });
  const samples = enc(batch<Prepared>(options.batchSize ?? 256)(mapStage(read)));
  return Object.assign(samples, { stats: [read.readerStats, read.stats, mapStage.stats, enc.stats] });
}
