import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { firstOutOfVocab, IGNORE_INDEX, outOfVocab } from '@weft/core';
import { checkBinVocab } from '@weft/pack';
import type { TrainConfig } from './config.ts';
import type { RandomAccessPacks } from './dataset.ts';

const NEXT =
  ': check the data with `weft process --vocab-size` / `weft pack --vocab-size`, or train a model whose vocabulary covers it';

/**
 * The model's `vocab_size`: from `model.config`, else from `<model.path>/config.json`; undefined
 * when neither says.
 *
 * @example
 * modelVocabSize({ config: { vocab_size: 151669 } }); // 151669
 */
export function modelVocabSize(model: TrainConfig['model']): number | undefined {
  let cfg = model.config;
  if (!cfg && model.path && existsSync(join(model.path, 'config.json')))
    cfg = JSON.parse(readFileSync(join(model.path, 'config.json'), 'utf8')) as Record<string, unknown>;
  const v = cfg?.vocab_size;
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

/**
 * Before step 1: every token id the run can feed must be below the model's `vocab_size` (one
 * beyond it crashes PyTorch's embedding far from its cause). `.bin` data (InternLM folders, and
 * raw data once tokenized) is read once in file order and the first bad token is named by file
 * and line; other packs are checked one by one and named by dataset and pack index. Throws
 * weft's DataError (the CLI exits 2 with that one line).
 *
 * @example
 * await checkDatasetVocab(data, 151669, 'data/packed');
 */
export async function checkDatasetVocab(data: RandomAccessPacks, vocabSize: number, name: string): Promise<void> {
  if (data.binFiles) {
    await checkBinVocab(data.binFiles, vocabSize, { next: NEXT });
    return;
  }
  for (let i = 0; i < data.length; i++) {
    const p = await data.get(i);
    for (const [field, ids] of [
      ['input_ids', p.input_ids],
      ['labels', p.labels],
    ] as const) {
      const at = firstOutOfVocab(field === 'labels' ? ids.map((x) => (x === IGNORE_INDEX ? 0 : x)) : ids, vocabSize);
      if (at >= 0) throw outOfVocab({ file: `${name} (pack ${i}, ${field})` }, ids[at]!, at, vocabSize, NEXT);
    }
  }
}
