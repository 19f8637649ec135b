import type { Sample } from '@weft/core';
import { encodePrepared } from './encode.ts';
import type { Prepared } from './template-map.ts';
import { loadTokenizerFromSpec, type Tokenizer, type TokenizerSpec } from './tokenizer.ts';

/** What each worker of `tokenizeFile` gets: the tokenizer to load and the truncation length. */
export interface EncodeWorkerInit {
  spec: TokenizerSpec;
  maxLength?: number;
}

/** Worker factory for core `parallelMap`: loads the tokenizer once, then encodes batches. */
export async function createEncoder(init: EncodeWorkerInit): Promise<(batch: Prepared[]) => Promise<(Sample | null)[]>> {
  const tok = await loadTokenizerFromSpec(init.spec);
  return (batch) => encodePrepared(tok, batch, init.maxLength);
}

/** Worker factory for InternLM-style documents: BOS + encode(text) + EOS for each text of a batch. */
export async function createDocEncoder(init: { spec: TokenizerSpec }): Promise<(texts: string[]) => Promise<Int32Array[]>> {
  const tok = await loadTokenizerFromSpec(init.spec);
  return (texts) => encodeDocs(tok, texts);
}

/** BOS + ids + EOS per text (InternLM's tokenizer.py: add_bos_token and add_eos_token). */
export async function encodeDocs(tok: Pick<Tokenizer, 'encodeBatch' | 'bosIds' | 'eosIds'>, texts: string[]): Promise<Int32Array[]> {
  const enc = await tok.encodeBatch(texts);
  return enc.map((ids) => {
    const out = new Int32Array(tok.bosIds.length + ids.length + tok.eosIds.length);
    out.set(tok.bosIds, 0);
    out.set(ids, tok.bosIds.length);
    out.set(tok.eosIds, tok.bosIds.length + ids.length);
    return out;
  });
}
