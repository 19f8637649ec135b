/**
 * Compare strings by Unicode code point, as Python does (equal to UTF-8 byte order). JavaScript's
 * default `<` compares UTF-16 code units, which differs for characters outside the BMP.
 */
export function comparePython(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i),
      y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (0xD800-0xDFFF) encode code points above 0xFFFF: they sort after every BMP unit
    // above them in code-point order.
    const xs = x >= 0xd800 && x <= 0xdfff,
      ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1; // a surrogate stands for a code point above every BMP unit
    return x - y;
  }
  return a.length - b.length;
}

/** A key that sorts by code point under plain byte comparison (UTF-8). */
export function pythonSortKey(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}
