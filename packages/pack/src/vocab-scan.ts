import { firstOutOfVocab, outOfVocab, checkVocabSize, signedTokenId } from '@weft/core';
import { readInternlmBin } from '@weft/order';

/**
 * Read InternLM `.bin` files once, sequentially, and throw a DataError naming the file and line of
 * the first token whose id (absolute value: negative = no loss) is outside `[0, vocabSize)`.
 * Used before packing `.bin` files directly with `--on-error fail` (`weft pack --vocab-size`,
 * `weft process --format internlm --pack --vocab-size`: reported before any work is written; with
 * skip, `checkedBinSources` leaves such lines out) and by the trainer before step 1. `next` replaces
 * the message's advice on what to do.
 *
 * @example
 * await checkBinVocab(['data/en/a.bin'], 151669);
 */
export async function checkBinVocab(
  paths: readonly string[],
  vocabSize: number,
  o: { minLength?: number; maxRecordBytes?: number; next?: string } = {},
): Promise<void> {
  checkVocabSize(vocabSize);
  for (const path of paths) {
    const read = readInternlmBin(path, {
      minLength: o.minLength ?? 0,
      ...(o.maxRecordBytes !== undefined ? { maxRecordBytes: o.maxRecordBytes } : {}),
    });
    for await (const { tokens, source } of read) {
      const at = firstOutOfVocab(tokens, vocabSize, true);
      if (at < 0) continue;
      const id = signedTokenId(tokens[at]!);
      throw o.next === undefined
        ? outOfVocab(source, id, at, vocabSize)
        : outOfVocab(source, id, at, vocabSize, o.next);
    }
  }
}
