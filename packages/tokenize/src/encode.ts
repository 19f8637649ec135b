import { defineStage, IGNORE_INDEX, type CountedStage, type OnError, type Sample } from '@weft/core';
import type { Prepared } from './template-map.ts';
import type { Tokenizer } from './tokenizer.ts';

/** Options for {@link encode}. */
export interface EncodeOptions {
  tokenizer: Tokenizer;
  /** Truncate input_ids and labels to this many tokens (xtuner's max_length); none when absent. */
  maxLength?: number;
  /** Records encoded per `encodeBatch` call: larger amortises the call, costs memory. */
  batchSize?: number;
  onError?: OnError;
}

/** Tokenizer fields that `encodePrepared` needs (a worker passes the same). */
type EncodeTokenizer = Pick<Tokenizer, 'encodeBatch' | 'bosIds' | 'eosIds'>;

/**
 * Encode a batch of prepared records with xtuner `encode_fn` semantics: every text piece encoded on
 * its own without special tokens, BOS/EOS ids from the tokenizer, labels = ids where the piece
 * has loss else -100, then both truncated to `maxLength`. A record that encodes to no token at all
 * gives `null`. All distinct texts of the batch go to the tokenizer in one `encodeBatch` call.
 *
 * @example
 * const [s] = await encodePrepared(tok, [{ pieces: [{ text: 'Hi', loss: true }] }]);
 */
export async function encodePrepared(
  tokenizer: EncodeTokenizer,
  items: readonly Prepared[],
  maxLength?: number,
): Promise<(Sample | null)[]> {
  const index = new Map<string, number>();
  const texts: string[] = [];
  for (const it of items) {
    for (const p of it.pieces) {
      if ('text' in p && p.text !== '' && !index.has(p.text)) {
        index.set(p.text, texts.length);
        texts.push(p.text);
      }
    }
  }
  const encoded = await tokenizer.encodeBatch(texts);
  const bos = Int32Array.from(tokenizer.bosIds);
  const eos = Int32Array.from(tokenizer.eosIds);
  const empty = new Int32Array(0);
  const limit = maxLength ?? Infinity;
  return items.map((it) => {
    const parts: Int32Array[] = [];
    const losses: boolean[] = [];
    let n = 0;
    for (const p of it.pieces) {
      const ids =
        'text' in p ? (p.text === '' ? empty : encoded[index.get(p.text)!]!) : p.special === 'bos' ? bos : eos;
      if (ids.length === 0) continue;
      parts.push(ids);
      losses.push(p.loss);
      n += ids.length;
    }
    n = Math.min(n, limit);
    if (n === 0) return null;
    const input_ids = new Int32Array(n);
    const labels = new Int32Array(n);
    let off = 0;
    for (let k = 0; k < parts.length && off < n; k++) {
      const ids = parts[k]!;
      const take = Math.min(ids.length, n - off);
      const view = take === ids.length ? ids : ids.subarray(0, take);
      input_ids.set(view, off);
      if (losses[k]) labels.set(view, off);
      else labels.fill(IGNORE_INDEX, off, off + take);
      off += take;
    }
    const s: Sample = { input_ids, labels };
    if (it.source) s.source = it.source;
    return s;
  });
}

/**
 * The encode stage: Prepared → Sample, in order. Records that tokenize to nothing are dropped and
 * counted under "empty".
 *
 * @example
 * const samples = pipe(readDataset(f, 'ftdp'), templateMap('internlm2_chat'), encode({ tokenizer: tok, maxLength: 2048 }));
 */
export function encode(options: EncodeOptions): CountedStage<Prepared, Sample> {
  const { tokenizer, maxLength } = options;
  const batchSize = options.batchSize ?? 256;
  if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 1))
    throw new RangeError(`maxLength must be a positive integer, got ${maxLength}`);
  return defineStage<Prepared, Sample>(
    'encode',
    async function* (src, ctx) {
      let buf: Prepared[] = [];
      const flush = async function* (): AsyncIterable<Sample> {
        const out = await encodePrepared(tokenizer, buf, maxLength);
        buf = [];
        for (const s of out) {
          if (s) yield s;
          else ctx.drop('empty');
        }
      };
      for await (const x of src) {
        buf.push(x);
        if (buf.length >= batchSize) yield* flush();
      }
      if (buf.length > 0) yield* flush();
    },
    { onError: options.onError ?? 'fail' },
  );
}
