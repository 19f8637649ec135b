import type { TextDoc } from '@weft/core';
import { lineReader } from './line-reader.ts';
import { lineSource } from './lines.ts';

/**
 * Read plain text, one document per line (the line without its line break). Lines that are empty
 * or only whitespace are dropped and counted as 'empty' (InternLM's tokenizer skips them too).
 *
 * @example
 * for await (const doc of readText('data/pretrain/en.txt')) console.log(doc.source.line, doc.text);
 */
export const readText = lineReader<TextDoc>('read-text', (text, raw) =>
  text.trim() === '' ? undefined : { text, source: lineSource(raw) },
);
