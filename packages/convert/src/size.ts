import { bytesOf } from '@weft/core';

/**
 * Parse a shard size the way transformers does: `"2GB"` = 2·10^9, `"2GiB"` = 2·2^30, plain numbers are bytes
 * (core's {@link bytesOf}, which the CLI's `--max-shard-size` parser uses too).
 *
 * @example
 * parseSize('500MB'); // 500000000
 */
export function parseSize(s: string | number): number {
  if (typeof s === 'number') return s;
  const n = bytesOf(s.trim().replace(/^([0-9.]+)\s+/, '$1')); // the library also takes "2 GB"
  if (!Number.isSafeInteger(n))
    throw new Error(`cannot read size ${JSON.stringify(s)}: use a number of bytes or e.g. 2GB, 500MB, 4GiB`);
  return n;
}
