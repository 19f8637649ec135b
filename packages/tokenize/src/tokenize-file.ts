import {
  batch,
  DEFAULT_TEMPLATE,
  defineStage,
  mapConcurrent,
  parallelMap,
  type OnError,
  type Sample,
  type StageStats,
} from '@weft/core';
import type { ByteRange } from '@weft/order';
import { encodePrepared } from './encode.ts';
import { encodeWorkerInit, limitNativeThreads, type EncodeWorkerInit, type EncoderPool } from './encode-worker.ts';
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
  /**
   * Encoder threads kept across files ({@link encoderPool}); when given, `workers` is ignored and
   * the pool's tokenizer and maxLength are used (create it from the same ones).
   */
  pool?: EncoderPool;
  /** Records per batch handed to a worker: larger amortises messaging, costs memory. */
  batchSize?: number;
  /**
   * With a `pool`, a batch also ends once its texts reach this many characters (default
   * 32768). Many small batches keep every worker busy to the end of each file: with records of a
   * few KB, 256-record batches gave a 4 MB file only 8 batches, so 16 workers waited on 8.
   */
  batchChars?: number;
  onError?: OnError;
  /** The largest record (line, or JSON array element) to read; larger ones fail or are skipped. Default 256 MiB. */
  maxRecordBytes?: number;
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
  if (options.maxLength !== undefined && (!Number.isInteger(options.maxLength) || options.maxLength < 1))
    throw new RangeError(`maxLength must be a positive integer, got ${options.maxLength}`);
  const read = readDataset(file, options.format, {
    onError,
    ...(options.maxRecordBytes !== undefined ? { maxRecordBytes: options.maxRecordBytes } : {}),
    ...(options.range ? { range: options.range } : {}),
  });
  const tpl = options.template ?? DEFAULT_TEMPLATE;
  const mapStage =
    tpl === 'chat_template' ? chatTemplateMap(options.tokenizer, { onError }) : templateMap(tpl, { onError });
  const init = encodeWorkerInit(
    options.tokenizer.spec,
    options.maxLength !== undefined ? { maxLength: options.maxLength } : {},
  );
  const workers = options.workers ?? 0;
  const tok = options.tokenizer;
  const encodeBatches = options.pool
    ? options.pool.map
    : workers === 0
      ? // In this thread, two batches in flight overlap reading/templating with the native encoder's own threads.
        mapConcurrent((b: Prepared[]) => encodePrepared(tok, b, options.maxLength), { concurrency: 2 })
      : // A pool for this file only, the native binding's threads sized to it as `encoderPool` does.
        parallelMap<Prepared[], (Sample | null)[], EncodeWorkerInit>({
          module: new URL('./encode-worker.ts', import.meta.url),
          name: 'createEncoder',
          init,
          workers,
          concurrencyPerWorker: tok.spec.backend === 'native' ? limitNativeThreads(workers).concurrencyPerWorker : 1,
        });
  const enc = defineStage<Prepared[], Sample>(
    'encode',
    async function* (src, ctx) {
      for await (const out of encodeBatches(src)) {
        ctx.stats.seen += out.length - 1; // counted per record, not per batch
        for (const s of out) {
          if (s) yield s;
          else ctx.drop('empty');
        }
      }
    },
    { onError },
  );
  const batches = options.pool
    ? batchByChars(options.batchSize ?? 256, options.batchChars ?? 32768)
    : batch<Prepared>(options.batchSize ?? 256);
  const samples = enc(batches(mapStage(read)));
  return Object.assign(samples, { stats: [read.readerStats, read.stats, mapStage.stats, enc.stats] });
}

/** Batches of at most `size` records that end early once their piece texts reach `chars` characters. */
function batchByChars(size: number, chars: number): (src: AsyncIterable<Prepared>) => AsyncIterable<Prepared[]> {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`batchSize must be a positive integer, got ${size}`);
  if (!Number.isInteger(chars) || chars < 1)
    throw new RangeError(`batchChars must be a positive integer, got ${chars}`);
  return async function* (source) {
    let buf: Prepared[] = [];
    let n = 0;
    for await (const x of source) {
      buf.push(x);
      for (const p of x.pieces) if ('text' in p) n += p.text.length;
      if (buf.length === size || n >= chars) {
        yield buf;
        buf = [];
        n = 0;
      }
    }
    if (buf.length > 0) yield buf;
  };
}
