import { DataError, type Provenance } from '@weft/core';

/**
 * The default `maxRecordBytes`: 256 MiB. Large enough for the biggest single records seen in real
 * corpora (a 203 MB InternLM `.bin` line of 28 M tokens), small enough that one runaway line (a file
 * with no newlines, a dump glued onto one line) fails fast instead of growing past the machine's
 * memory. Raise it with `--max-record-bytes` when a record really is larger.
 */
export const DEFAULT_MAX_RECORD_BYTES = 256 * 1024 * 1024;

/** The rejection reason (the key of the "rejected" counters) of an oversize record. */
export const RECORD_TOO_LARGE = 'record-too-large';

/** "20.0 MB" / "512 B": sizes in messages. */
export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

/**
 * The DataError of a record over the limit, naming where it is, its size and what to do.
 *
 * @example
 * throw recordTooLarge({ file: 'a.jsonl', line: 7, offset: 1234 }, 300e6, DEFAULT_MAX_RECORD_BYTES);
 */
export function recordTooLarge(source: Provenance, size: number, limit: number): DataError {
  return new DataError(
    `record of ${formatBytes(size)} (${size} bytes) exceeds --max-record-bytes ${limit} (${formatBytes(limit)}): ` +
      'raise --max-record-bytes if the record is meant to be this large, or pass --on-error skip to leave it out',
    source,
    { reason: RECORD_TOO_LARGE },
  );
}

/** Validate a maxRecordBytes option (a positive integer). */
export function checkMaxRecordBytes(n: number | undefined): number {
  if (n === undefined) return DEFAULT_MAX_RECORD_BYTES;
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`maxRecordBytes must be a positive integer, got ${n}`);
  return n;
}
