/**
 * Parse a shard size the way transformers does: `"2GB"` = 2·10^9, `"2GiB"` = 2·2^30, plain numbers are bytes.
 *
 * @example
 * parseSize('500MB'); // 500000000
 */
export function parseSize(s: string | number): number {
  if (typeof s === 'number') return s;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$/i.exec(s);
  if (!m) throw new Error(`cannot read size ${JSON.stringify(s)}: use a number of bytes or e.g. 2GB, 500MB, 4GiB`);
  const unit = (m[2] ?? 'B').toUpperCase();
  const mult: Record<string, number> = {
    B: 1,
    KB: 1e3,
    MB: 1e6,
    GB: 1e9,
    TB: 1e12,
    KIB: 2 ** 10,
    MIB: 2 ** 20,
    GIB: 2 ** 30,
    TIB: 2 ** 40,
  };
  return Math.floor(Number(m[1]) * mult[unit]!);
}
