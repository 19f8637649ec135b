import { DataError } from '@weft/core';
import type { RawLine } from './lines.ts';

/**
 * Parse JSON text, turning a syntax error into a 'malformed-json' DataError at the line (every
 * line-based reader of weft reports a bad JSON line through here).
 *
 * @example
 * parseJsonLine('{"a": 1', { file: 'a.jsonl', line: 3, offset: 40 }); // DataError: a.jsonl: line 3 (byte 40): malformed JSON: ...
 */
export function parseJsonLine(text: string, raw: Pick<RawLine, 'file' | 'line' | 'offset'>): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DataError(
      `malformed JSON: ${(e as Error).message}`,
      { file: raw.file, line: raw.line, offset: raw.offset },
      { reason: 'malformed-json' },
    );
  }
}
