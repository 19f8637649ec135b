import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, walkProtobuf } from '@weft/core';

/** Piece strings of a sentencepiece `tokenizer.model` (ModelProto field 1, SentencePiece field 1). */
export function sentencepiecePieces(buf: Uint8Array, file = 'tokenizer.model'): string[] {
  const pieces: string[] = [];
  const dec = new TextDecoder();
  const fail = (detail: string, offset: number): never => {
    throw new DataError(
      `not a valid sentencepiece model (truncated or corrupt file?): ${detail}`,
      { file, offset },
      { reason: 'corrupt-model' },
    );
  };
  walkProtobuf(
    buf,
    0,
    buf.length,
    (num, wire, _v, body, at) => {
      if (num !== 1 || wire !== 2) return;
      let piece = '';
      walkProtobuf(
        buf,
        at,
        at + body!.length,
        (n, w, _x, b) => {
          if (n === 1 && w === 2) piece = dec.decode(b);
        },
        fail,
      );
      pieces.push(piece);
    },
    fail,
  );
  return pieces;
}

/**
 * `len(tokenizer)` as transformers counts it (distinct tokens of the vocabulary and the added
 * tokens), from `tokenizer.json` or a sentencepiece `tokenizer.model` plus tokenizer_config.json's
 * added tokens. Undefined when the folder has neither.
 *
 * @example
 * const n = tokenizerSize('internlm2-chat-7b'); // 92544
 */
export function tokenizerSize(dir: string): number | undefined {
  const tj = join(dir, 'tokenizer.json');
  if (existsSync(tj)) {
    let j: { model?: { vocab?: unknown }; added_tokens?: { content: string }[] };
    try {
      j = JSON.parse(readFileSync(tj, 'utf8')) as typeof j;
    } catch (e) {
      throw new DataError(`not valid JSON: ${(e as Error).message}`, { file: tj }, { reason: 'malformed-json' });
    }
    const vocab = j.model?.vocab;
    // BPE/WordLevel/WordPiece keep a token → id object; Unigram a list of [token, score]
    const tokens = new Set<string>(
      Array.isArray(vocab) ? vocab.map((x) => String((x as unknown[])[0])) : Object.keys((vocab as object) ?? {}),
    );
    for (const a of j.added_tokens ?? []) tokens.add(a.content);
    return tokens.size;
  }
  const sp = join(dir, 'tokenizer.model');
  if (existsSync(sp)) {
    const tokens = new Set(sentencepiecePieces(readFileSync(sp), sp));
    const tc = join(dir, 'tokenizer_config.json');
    if (existsSync(tc)) {
      const cfg = JSON.parse(readFileSync(tc, 'utf8')) as {
        added_tokens_decoder?: Record<string, { content: string }>;
      };
      for (const a of Object.values(cfg.added_tokens_decoder ?? {})) tokens.add(a.content);
    }
    return tokens.size;
  }
  return undefined;
}
