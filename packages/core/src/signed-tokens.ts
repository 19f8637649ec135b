import { IGNORE_INDEX } from './records.ts';

/**
 * The signed-token codec of InternLM `.bin` data (`{"tokens": [...]}` lines) and of weft's token
 * sidecars: a token with a loss is stored as its id, one without as the id negated. Decoding is
 * xtuner's rule (`input_ids = abs(t)`, `labels = t if t > 0 else -100`), so token 0 never has a
 * loss: there is no -0 to tell a trained 0 from an untrained one, and a trained token 0 that is
 * encoded comes back untrained. Every reader and writer of signed tokens goes through here.
 *
 * @example
 * const { input_ids, labels } = fromSignedTokens([5, -7, 0, 9]); // ids [5, 7, 0, 9], labels [5, -100, -100, 9]
 * toSignedTokens(input_ids, labels); // Int32Array [5, -7, 0, 9]
 */

/** Input id of one signed token: its absolute value. */
export function signedTokenId(t: number): number {
  return t < 0 ? -t : t;
}

/** Label of one signed token: the token when it is > 0, else {@link IGNORE_INDEX} (token 0 included). */
export function signedTokenLabel(t: number): number {
  return t > 0 ? t : IGNORE_INDEX;
}

/** Signed token of one position: the id where the label has a loss, the id negated where not. */
export function signedToken(id: number, label: number): number {
  return label === IGNORE_INDEX ? -id : id;
}

/**
 * Decode `tokens` into `input_ids` and `labels` starting at `at` (no allocation: the packers' hot loop).
 *
 * @example
 * decodeSignedInto(tokens, pack.input_ids, pack.labels, used);
 */
export function decodeSignedInto(tokens: ArrayLike<number>, input_ids: Int32Array, labels: Int32Array, at = 0): void {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    input_ids[at + i] = t < 0 ? -t : t;
    labels[at + i] = t > 0 ? t : IGNORE_INDEX;
  }
}

/** A sample's `input_ids` and `labels` from signed tokens. */
export function fromSignedTokens(tokens: ArrayLike<number>): { input_ids: Int32Array; labels: Int32Array } {
  const input_ids = new Int32Array(tokens.length),
    labels = new Int32Array(tokens.length);
  decodeSignedInto(tokens, input_ids, labels);
  return { input_ids, labels };
}

/** Signed tokens of a sample (the inverse of {@link fromSignedTokens}, except for a trained token 0). */
export function toSignedTokens(input_ids: ArrayLike<number>, labels: ArrayLike<number>): Int32Array {
  if (input_ids.length !== labels.length)
    throw new RangeError(`input_ids has ${input_ids.length} tokens but labels ${labels.length}`);
  const out = new Int32Array(input_ids.length);
  for (let i = 0; i < out.length; i++) out[i] = labels[i] === IGNORE_INDEX ? -input_ids[i]! : input_ids[i]!;
  return out;
}
