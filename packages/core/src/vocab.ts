import { DataError, type OnError, type Provenance } from './errors.ts';
import type { Sample } from './records.ts';
import { defineStage, type CountedStage } from './stage.ts';
import { signedTokenId } from './signed-tokens.ts';

/** The rejection reason (key of the "rejected" counters) of a sample with a token id outside the vocabulary. */
export const OUT_OF_VOCAB = 'token-out-of-vocab';

/**
 * Position of the first id outside `[0, vocabSize)`, or -1 when all are inside. With `signed`,
 * ids are InternLM `.bin` tokens (negative = no loss), checked by absolute value.
 *
 * @example
 * firstOutOfVocab(Int32Array.of(5, 151700, 2), 151669); // 1
 */
export function firstOutOfVocab(ids: ArrayLike<number>, vocabSize: number, signed = false): number {
  for (let i = 0; i < ids.length; i++) {
    const v = signed ? signedTokenId(ids[i]!) : ids[i]!;
    if (v < 0 || v >= vocabSize) return i;
  }
  return -1;
}

/**
 * The DataError for token `ids[at]` outside the vocabulary: where it is, the id, and what to do.
 *
 * @example
 * throw outOfVocab({ file: 'a.bin', line: 3 }, 151700, 17, 151669);
 */
export function outOfVocab(
  source: Provenance,
  id: number,
  at: number,
  vocabSize: number,
  next = ', or pass --on-error skip to leave such samples out',
): DataError {
  return new DataError(
    `token id ${id} at position ${at} is outside the vocabulary (vocab_size ${vocabSize}, so ids must be 0..${vocabSize - 1}): ` +
      `the data was tokenized with another tokenizer than the model's, or the vocabulary size is wrong; retokenize with the model's tokenizer${next}`,
    source,
    { reason: OUT_OF_VOCAB },
  );
}

/** Validate a vocabulary size option. */
export function checkVocabSize(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`vocabSize must be a positive integer, got ${n}`);
  return n;
}

/**
 * A stage that passes samples whose `input_ids` all lie in `[0, vocabSize)`; any other sample is a
 * DataError naming its source (or, with `onError: 'skip'`, dropped and counted as
 * 'token-out-of-vocab'). `where` names samples without a source (e.g. the file being read).
 *
 * @example
 * const samples = pipe(tokenized, vocabCheck(151669, { onError: 'skip', where: { file: 'a.bin' } }));
 */
export function vocabCheck(
  vocabSize: number,
  o: { onError?: OnError; where?: Provenance } = {},
): CountedStage<Sample, Sample> {
  checkVocabSize(vocabSize);
  return defineStage<Sample, Sample>(
    'vocab-check',
    async function* (src, ctx) {
      for await (const s of src) {
        const at = firstOutOfVocab(s.input_ids, vocabSize);
        if (at < 0) yield s;
        else ctx.fail(outOfVocab(s.source ?? o.where ?? { file: '(unknown)' }, s.input_ids[at]!, at, vocabSize));
      }
    },
    { onError: o.onError ?? 'fail' },
  );
}
