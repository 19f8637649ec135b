/**
 * Python's `json.dumps(value)` with its defaults (`ensure_ascii=True`, separators `", "` and
 * `": "`), for values that came out of `JSON.parse`. What cannot round-trip through JavaScript is
 * documented, not guessed: integral floats (`1.0` parses to 1 and prints as `1`), integers beyond
 * 2^53, and objects whose keys look like array indices (JavaScript lists those first).
 *
 * @example
 * pyJsonDumps({ text: 'héllo', n: [1, 2] }); // '{"text": "h\\u00e9llo", "n": [1, 2]}'
 */
export function pyJsonDumps(v: unknown): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (Number.isNaN(v)) return 'NaN';
      if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
      return pyFloatRepr(v);
    case 'string':
      return pyString(v);
    case 'object':
      if (Array.isArray(v)) return `[${v.map(pyJsonDumps).join(', ')}]`;
      return `{${Object.entries(v as Record<string, unknown>)
        .map(([k, x]) => `${pyString(k)}: ${pyJsonDumps(x)}`)
        .join(', ')}}`;
    default:
      throw new TypeError(`not JSON: ${typeof v}`);
  }
}

function pyFloatRepr(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return String(x);
  // Python writes exponents with at least two digits and drops the "+" only for negative ones.
  return String(x).replace(/e([+-])(\d)$/, 'e$10$2');
}

function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += s[i];
  }
  return `${out}"`;
}
