import type { Provenance } from '@weft/core';
import { lineReader, parseJsonLine } from './line-reader.ts';
import { lineSource } from './lines.ts';

/** One parsed JSON value with where it came from. */
export interface JsonRecord {
  value: unknown;
  source: Provenance;
}

/**
 * Read JSON lines (`.jsonl`): one JSON value per line. Blank lines are dropped (counted as 'empty');
 * a malformed or non-UTF-8 line is a DataError naming file, line and byte offset.
 *
 * @example
 * const recs = readJsonl(['data/a.jsonl'], { onError: 'skip' });
 * for await (const { value, source } of recs) ...
 * recs.stats.toJSON(); // { seen, emitted, rejected: { 'malformed-json': 2, empty: 1 } }
 */
export const readJsonl = lineReader<JsonRecord>('read-jsonl', (text, raw) => {
  if (text.trim() === '') return undefined;
  return { value: parseJsonLine(text, raw), source: lineSource(raw) };
});
