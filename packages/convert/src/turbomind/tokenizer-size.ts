import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '@weft/core';

/** Piece strings of a sentencepiece `tokenizer.model` (ModelProto field 1, SentencePiece field 1). */
export function sentencepiecePieces(buf: Uint8Array, file = 'tokenizer.model'): string[] {
  const pieces: string[] = [];
  const dec = new TextDecoder();
  const varint = (p: { i: number }, end: number): number => {
    let x = 0, mul = 1;
    for (;;) {
      if (p.i >= end) throw new DataError('truncated varint', { file, offset: p.i }, { reason: 'truncated' });
      const b = buf[p.i++]!;
      x += (b & 0x7f) * mul;
      if (b < 0x80) return x;
      mul *= 128;
      if (mul > 2 ** 56) throw new DataError('varint too long', { file, offset: p.i }, { reason: 'bad-protobuf' });
    }
  };
  // walk one message; call `onField` for length-delimited fields, skip the rest
  const walk = (start: number, end: number, onField: (field: number, s: number, e: number) => void): void => {
    const p = { i: start };
    while (p.i < end) {
      const key = varint(p, end);
      const field = Math.floor(key / 8), wire = key & 7;
      if (wire === 0) varint(p, end);
      else if (wire === 1) p.i += 8;
      else if (wire === 5) p.i += 4;
      else if (wire === 2) {
        const n = varint(p, end);
        if (p.i + n > end) throw new DataError(`field ${field} runs past its message`, { file, offset: p.i }, { reason: 'truncated' });
        onField(field, p.i, p.i + n);
        p.i += n;
      } else throw new DataError(`unsupported protobuf wire type ${wire}`, { file, offset: p.i }, { reason: 'bad-protobuf' });
      if (p.i > end) throw new DataError('message truncated', { file, offset: end }, { reason: 'truncated' });
    }
  };
  walk(0, buf.length, (field, s, e) => {
    if (field !== 1) return;
    let piece = '';
    walk(s, e, (f, a, b) => { if (f === 1) piece = dec.decode(buf.subarray(a, b)); });
    pieces.push(piece);
  });
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
    const tokens = new Set<string>(Array.isArray(vocab) ? vocab.map((x) => String((x as unknown[])[0])) : Object.keys((vocab as object) ?? {}));
    for (const a of j.added_tokens ?? []) tokens.add(a.content);
    return tokens.size;
  }
  const sp = join(dir, 'tokenizer.model');
  if (existsSync(sp)) {
    const tokens = new Set(sentencepiecePieces(readFileSync(sp), sp));
    const tc = join(dir, 'tokenizer_config.json');
    if (existsSync(tc)) {
      const cfg = JSON.parse(readFileSync(tc, 'utf8')) as { added_tokens_decoder?: Record<string, { content: string }> };
      for (const a of Object.values(cfg.added_tokens_decoder ?? {})) tokens.add(a.content);
    }
    return tokens.size;
  }
  return undefined;
}
