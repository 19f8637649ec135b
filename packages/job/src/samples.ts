import { decodeSignedInto, DEFAULT_TEMPLATE, vocabCheck, type Sample, type StageStats } from '@weft/core';
import { trainableOnly, type Range } from '@weft/pack/units';
import type { EncoderPool, LineEncoderPool, Tokenizer } from '@weft/tokenize';
import type { ProcessFormat, ProcessOptions } from './process.ts';

/** Whether an input file can be cut into byte ranges (line-based formats). */
export async function isSplittable(rel: string, format: ProcessFormat): Promise<boolean> {
  if (format === 'internlm') return false;
  const { isLineBased } = await import('@weft/tokenize');
  return isLineBased(rel, format);
}

/**
 * What the units of one job share: worker pools made on first use and kept for the whole job (the
 * caller closes them with {@link closePools}), and the tokenizer when the caller loaded it already
 * (a unit worker, on its parent's tables).
 */
export interface SharedPools {
  pool?: EncoderPool;
  linePool?: LineEncoderPool;
  tokenizer?: Tokenizer;
}

/** Close the pools of a job (idempotent). */
export async function closePools(shared: SharedPools): Promise<void> {
  await Promise.all([shared.pool?.close(), shared.linePool?.close()]);
}

/**
 * Samples of one input file (or a byte range of it), with the counters of the stages that made them.
 * `shared.pool`: one encoder pool for the whole job (made here on first use; the caller closes it).
 */
export async function fileSamples(
  path: string,
  opts: ProcessOptions,
  range?: Range & { firstLine?: number },
  shared: SharedPools = {},
): Promise<{ samples: AsyncIterable<Sample>; stats: () => StageStats[] }> {
  const onError = opts.onError ?? 'fail';
  if (opts.format === 'internlm') {
    const { readInternlmBin } = await import('@weft/order');
    const r = readInternlmBin(path, {
      minLength: opts.minLength ?? 0,
      onError,
      ...(opts.maxRecordBytes !== undefined ? { maxRecordBytes: opts.maxRecordBytes } : {}),
    });
    async function* toSamples(): AsyncIterable<Sample> {
      for await (const { tokens, source } of r) {
        const input_ids = new Int32Array(tokens.length),
          labels = new Int32Array(tokens.length);
        decodeSignedInto(tokens, input_ids, labels); // xtuner's JsonlDataset: a .bin cannot mark token 0 trained (no -0)
        yield { input_ids, labels, source };
      }
    }
    if (opts.vocabSize === undefined) return { samples: toSamples(), stats: () => [r.stats] };
    const check = vocabCheck(opts.vocabSize, { onError });
    return { samples: check(toSamples()), stats: () => [r.stats, check.stats] };
  }
  const { loadTokenizer, tokenizeFile, encoderPool, canTokenizeLines, lineEncoderPool, tokenizeLines } =
    await import('@weft/tokenize');
  const tokenizer = shared.tokenizer ?? (await loadTokenizer(opts.tokenizer ?? 'default'));
  const workers = opts.workers ?? 0;
  const template = opts.template ?? DEFAULT_TEMPLATE;
  // WEFT_PARSE_IN_MAIN=1: the previous layout (stages in this thread, workers only encode), for A/B benchmarks.
  if (workers > 0 && canTokenizeLines(path, opts.format, template) && process.env.WEFT_PARSE_IN_MAIN !== '1') {
    // Line-based input: the workers read, parse, template and encode raw batches of lines; this
    // thread only cuts the batches, orders the results and writes (same samples, counts and errors).
    shared.linePool ??= lineEncoderPool(tokenizer, {
      workers,
      format: opts.format,
      template,
      ...(opts.maxLength !== undefined ? { maxLength: opts.maxLength } : {}),
      ...(opts.maxRecordBytes !== undefined ? { maxRecordBytes: opts.maxRecordBytes } : {}),
    });
    const s = tokenizeLines(path, { pool: shared.linePool, onError, ...(range ? { range } : {}) });
    const keep = trainableOnly();
    const check = vocabCheck(opts.vocabSize ?? tokenizer.vocabSize, { onError });
    return { samples: check(keep(s)), stats: () => [...s.stats, keep.stats, check.stats] };
  }
  // One pool for the whole job: each worker loads the tokenizer once, not once per file.
  if (workers > 0)
    shared.pool ??= encoderPool(tokenizer, {
      workers,
      ...(opts.maxLength !== undefined ? { maxLength: opts.maxLength } : {}),
    });
  const s = tokenizeFile(path, {
    format: opts.format,
    tokenizer,
    template: opts.template ?? DEFAULT_TEMPLATE,
    workers,
    onError,
    ...(range ? { range } : {}),
    ...(opts.maxLength !== undefined ? { maxLength: opts.maxLength } : {}),
    ...(shared.pool ? { pool: shared.pool } : {}),
    ...(opts.maxRecordBytes !== undefined ? { maxRecordBytes: opts.maxRecordBytes } : {}),
  });
  // xtuner's offline job drops samples left with no trainable token after truncation (before packing).
  const keep = trainableOnly();
  const check = vocabCheck(opts.vocabSize ?? tokenizer.vocabSize, { onError });
  return { samples: check(keep(s)), stats: () => [...s.stats, keep.stats, check.stats] };
}
