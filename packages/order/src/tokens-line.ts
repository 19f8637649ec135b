/**
 * The hot path of reading InternLM `.bin` files: parse one `{"tokens": [1, -2, 3]}` line from raw
 * bytes without building strings or calling JSON.parse. Anything the fast path does not expect
 * (other keys, odd number forms) falls back to JSON.parse with the same validation.
 */

let scratch = new Int32Array(1 << 16);

/** Result of parsing one line: the tokens, or a reason the line is not a valid record. */
export type TokensParse =
  { ok: true; tokens: Int32Array } | { ok: false; detail: string; reason: 'non-utf8' | 'malformed-json' | 'schema' };

const INT32_MIN = -2147483648,
  INT32_MAX = 2147483647;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Parse the line `bytes[start, end)` (its trailing newline may be included).
 *
 * @example
 * const r = parseTokensLine(Buffer.from('{"tokens": [1, -2, 3]}\n'), 0, 23);
 * r.ok && r.tokens; // Int32Array [1, -2, 3]
 */
export function parseTokensLine(bytes: Uint8Array, start: number, end: number): TokensParse {
  let i = start;
  while (i < end && isWs(bytes[i]!)) i++;
  // Fast path: exactly {"tokens": [ ... ]} with optional whitespace.
  if (bytes[i] === 0x7b /* { */) {
    i++;
    while (i < end && isWs(bytes[i]!)) i++;
    if (
      i + 8 <= end &&
      bytes[i] === 0x22 &&
      bytes[i + 1] === 0x74 &&
      bytes[i + 2] === 0x6f &&
      bytes[i + 3] === 0x6b &&
      bytes[i + 4] === 0x65 &&
      bytes[i + 5] === 0x6e &&
      bytes[i + 6] === 0x73 &&
      bytes[i + 7] === 0x22
    ) {
      i += 8;
      while (i < end && isWs(bytes[i]!)) i++;
      if (bytes[i] === 0x3a /* : */) {
        i++;
        while (i < end && isWs(bytes[i]!)) i++;
        if (bytes[i] === 0x5b /* [ */) {
          i++;
          const r = parseIntList(bytes, i, end);
          if (r >= 0) {
            let j = endPos;
            while (j < end && isWs(bytes[j]!)) j++;
            if (bytes[j] === 0x7d /* } */) {
              j++;
              while (j < end && isWs(bytes[j]!)) j++;
              if (j === end) return { ok: true, tokens: scratch.slice(0, r) };
            }
          }
        }
      }
    }
  }
  return slowPath(bytes, start, end);
}

let endPos = 0;

/**
 * Parse `int, int, ... ]` into `scratch`; returns the count (and sets `endPos` past `]`), or -1.
 * Tuned for what json.dumps writes (", " between numbers); anything else still parses or
 * falls back. `(x - 0x30) >>> 0 <= 9` tests for a digit in one compare.
 */
function parseIntList(b: Uint8Array, i: number, end: number): number {
  let n = 0;
  let out = scratch;
  while (i < end && isWs(b[i]!)) i++;
  if (i < end && b[i] === 0x5d /* ] */) {
    endPos = i + 1;
    return 0;
  }
  while (i < end) {
    let neg = false;
    let c = b[i]!;
    if (c === 0x2d /* - */) {
      neg = true;
      if (++i >= end) return -1;
      c = b[i]!;
    }
    let v = c - 0x30;
    if (v >>> 0 > 9) return -1;
    i++;
    if (v === 0) {
      // JSON forbids leading zeros ("01"); let the slow path report it.
      if (i < end && (b[i]! - 0x30) >>> 0 <= 9) return -1;
    } else {
      const stop = Math.min(end, i + 9); // at most 10 digits: int32 range is checked below
      let d: number;
      while (i < stop && (d = b[i]! - 0x30) >>> 0 <= 9) {
        v = v * 10 + d;
        i++;
      }
      if (i < end && (b[i]! - 0x30) >>> 0 <= 9) return -1; // 11+ digits
    }
    if (neg) v = -v;
    if (v < INT32_MIN || v > INT32_MAX) return -1;
    if (n === out.length) {
      const bigger = new Int32Array(out.length * 2);
      bigger.set(out);
      scratch = out = bigger;
    }
    out[n++] = v;
    if (i >= end) return -1;
    c = b[i]!;
    if (c === 0x2c /* , */) {
      i++;
      if (i < end && b[i] === 0x20) i++;
      else while (i < end && isWs(b[i]!)) i++;
      continue;
    }
    while (isWs(c) && ++i < end) c = b[i]!;
    if (c === 0x5d /* ] */) {
      endPos = i + 1;
      return n;
    }
    if (c === 0x2c) {
      i++;
      while (i < end && isWs(b[i]!)) i++;
      continue;
    }
    return -1;
  }
  return -1;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function slowPath(bytes: Uint8Array, start: number, end: number): TokensParse {
  let text: string;
  try {
    text = decoder.decode(bytes.subarray(start, end));
  } catch {
    return { ok: false, detail: 'line is not valid UTF-8', reason: 'non-utf8' };
  }
  if (text.trim() === '')
    return { ok: false, detail: 'empty line where a {"tokens": [...]} record was expected', reason: 'schema' };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    const trimmed = text.trimEnd();
    const hint = trimmed.endsWith('}') ? '' : ' (the line is cut short: is the .bin truncated?)';
    return { ok: false, detail: `malformed JSON: ${(e as Error).message}${hint}`, reason: 'malformed-json' };
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    return { ok: false, detail: 'expected a JSON object {"tokens": [...]}', reason: 'schema' };
  const t = (v as { tokens?: unknown }).tokens;
  if (!Array.isArray(t)) return { ok: false, detail: 'expected "tokens" array', reason: 'schema' };
  // JSON.parse turns 1e3 and 2.0 into integers; Python's json (what xtuner reads with) gives floats.
  if (/[0-9][.eE]/.test(text.replace(/"(?:[^"\\]|\\.)*"/g, '""')))
    return { ok: false, detail: '"tokens" holds a number written as a float, expected integers', reason: 'schema' };
  const out = new Int32Array(t.length);
  for (let k = 0; k < t.length; k++) {
    const x = t[k];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < INT32_MIN || x > INT32_MAX) {
      return {
        ok: false,
        detail: `"tokens"[${k}] is ${JSON.stringify(x)}, expected a 32-bit integer`,
        reason: 'schema',
      };
    }
    out[k] = x;
  }
  return { ok: true, tokens: out };
}
