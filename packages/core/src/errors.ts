import type { Reason } from './reasons.ts';

/** Where a record came from: a file and a line (text formats) or a byte offset (binary formats). */
export interface Provenance {
  file: string;
  line?: number;
  offset?: number;
}

/**
 * An error in the data, naming the place it was found.
 *
 * @example
 * throw new DataError('expected "tokens" array', { file: 'cn/a.bin', line: 1207, offset: 88123 });
 * // DataError: cn/a.bin: line 1207 (byte 88123): expected "tokens" array
 */
export class DataError extends Error {
  override readonly name = 'DataError';
  readonly source: Provenance;
  /** Short machine-friendly reason, used as the key of the "rejected" counters. */
  readonly reason: Reason;
  readonly detail: string;

  constructor(detail: string, source: Provenance, options: { reason?: Reason; cause?: unknown } = {}) {
    super(`${formatProvenance(source)}: ${detail}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.source = source;
    this.detail = detail;
    this.reason = options.reason ?? 'invalid';
  }
}

export function formatProvenance(p: Provenance): string {
  let s = p.file;
  if (p.line !== undefined && p.offset !== undefined) s += `: line ${p.line} (byte ${p.offset})`;
  else if (p.line !== undefined) s += `: line ${p.line}`;
  else if (p.offset !== undefined) s += `: byte ${p.offset}`;
  return s;
}

export function isDataError(e: unknown): e is DataError {
  return e instanceof DataError || (e instanceof Error && e.name === 'DataError' && 'source' in e);
}

/** What a stage does with a bad record: stop with the error, or count it and go on. */
export type OnError = 'fail' | 'skip';
