import { DataError, type Reason } from '@weft/core';

const NUMBER = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

/**
 * Index of the first JSON syntax error in `text`, or -1 when it is valid JSON. V8's messages
 * give a position for some errors only ("Unexpected token ',', "[1,\n2,,]" is not valid JSON"
 * has none), so the place is found here. Iterative: deep nesting cannot overflow the stack.
 *
 * @example
 * jsonErrorIndex('[1,\n2,,]'); // 6
 * jsonErrorIndex('{"a": 1}'); // -1
 */
export function jsonErrorIndex(text: string): number {
  let i = 0;
  const n = text.length;
  const ws = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  // Scan one scalar at i; false (i at the bad char) when it is not one.
  const scalar = (): boolean => {
    const c = text[i];
    // Places as Python's json reports them: a bad escape at its backslash (\u: at the u), an unterminated string at its quote.
    if (c === '"') {
      const start = i;
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x22) {
          i++;
          return true;
        }
        if (d < 0x20) return false;
        if (d === 0x5c) {
          const e = text[i + 1];
          if (e === 'u') {
            if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
              i++;
              return false;
            } // Python: at the 'u'
            i += 5;
          } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
          else return false;
        }
      }
      i = start;
      return false;
    }
    for (const lit of ['true', 'false', 'null']) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return true;
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m === null) return false;
    i += m[0].length;
    return true;
  };
  // Containers still open: '[' or '{'.
  const stack: string[] = [];
  ws();
  for (;;) {
    // Expect a value.
    if (i >= n) return i;
    if (text[i] === '[' || text[i] === '{') {
      const open = text[i]!;
      stack.push(open);
      i++;
      ws();
      if (text[i] === (open === '[' ? ']' : '}')) {
        stack.pop();
        i++;
      } else if (open === '{') {
        if (text[i] !== '"' || !scalar()) return i;
        ws();
        if (text[i] !== ':') return i;
        i++;
        ws();
        continue;
      } else continue;
    } else if (!scalar()) return i;
    // After a value: close containers, or a comma and the next value.
    for (;;) {
      ws();
      if (stack.length === 0) return i < n ? i : -1;
      const top = stack[stack.length - 1]!;
      if (text[i] === (top === '[' ? ']' : '}')) {
        stack.pop();
        i++;
        continue;
      }
      if (text[i] !== ',') return i;
      i++;
      ws();
      if (top === '{') {
        if (text[i] !== '"' || !scalar()) return i;
        ws();
        if (text[i] !== ':') return i;
        i++;
        ws();
      }
      break;
    }
  }
}

/** Whether `text` is JSON lines: at least two non-blank lines, the first of them a JSON value on its own. */
function looksLikeJsonLines(text: string): boolean {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length < 2) return false;
  try {
    JSON.parse(lines[0]!);
    return true;
  } catch {
    return false;
  }
}

/** Options of {@link parseJsonDocument}. */
export interface JsonDocumentOptions {
  /** Added to the error when the file is in fact JSON lines: what the user should do. */
  jsonLinesHint?: string;
  /** The DataError's reason (its key in the skipped counts). */
  reason?: Reason;
}

/**
 * Parse a whole-file JSON document. A whitespace-only file is `undefined` (an empty input, not
 * an error: every reader treats it as zero records). Bad JSON is a DataError naming the line,
 * column and byte offset, with a hint when the file is in fact JSON lines.
 *
 * @example
 * const v = parseJsonDocument(text, 'data/alpaca.json'); // throws "data/alpaca.json: line 2 (byte 31): malformed JSON ..."
 */
export function parseJsonDocument(text: string, file: string, options: JsonDocumentOptions = {}): unknown {
  const jsonLinesHint = options.jsonLinesHint ?? 'name it .jsonl';
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    let at = jsonErrorIndex(text);
    if (at < 0) at = 0; // JSON.parse failed but the scan did not: report the start rather than nothing
    const lineStart = text.lastIndexOf('\n', at - 1) + 1;
    let line = 1;
    for (let k = text.indexOf('\n'); k >= 0 && k < lineStart; k = text.indexOf('\n', k + 1)) line++;
    const offset = Buffer.byteLength(text.slice(0, at), 'utf8');
    const column = at - lineStart + 1;
    const hint = looksLikeJsonLines(text)
      ? `; the file looks like JSON lines (one record per line), not one JSON document: ${jsonLinesHint}`
      : '';
    // V8's message quotes the whole input for some errors: keep it short.
    const v8 = (e as Error).message.replace(/, ".*" is not valid JSON$/s, '');
    throw new DataError(
      `malformed JSON at column ${column} (${v8})${hint}`,
      { file, line, offset },
      { reason: options.reason ?? 'malformed-json' },
    );
  }
}
