import { ONIG_L, ONIG_N, ONIG_S } from './onig-classes.ts';

/**
 * Translate a pre-tokenizer pattern written for Oniguruma (the engine inside HF `tokenizers`) into a
 * JavaScript RegExp (flags `gu`) that splits text the same way, or return why it cannot.
 *
 * Only the constructs byte-level BPE split patterns use are accepted; anything else is refused so
 * that the caller falls back to the `tokenizers` binding rather than guess:
 * - `\p{L}`, `\p{N}`, `\s`, `\S` become Oniguruma's own code point sets (onig-classes.ts): Node's
 *   Unicode tables are newer, and JavaScript's `\s` has U+FEFF but not U+0085.
 * - `(?i:'s|'t|...)` (Node 20 has no inline flags) becomes each letter's case-fold class, as
 *   JavaScript's `/iu` folds (`s` → `[sSſ]`, which Oniguruma matches too).
 * - `.`, `^`, `$`, `\d`, `\w`, `\b`, other `\p{..}`, possessive quantifiers and backreferences are refused.
 *
 * @example
 * const re = onigToJs(String.raw`\p{N}{1,3}| ?\p{L}+|\s+`);
 * if (typeof re !== 'string') 'abc 1234'.match(re); // ['abc', ' ', '123', '4'] (as tokenizers splits)
 */
export function onigToJs(pattern: string): RegExp | string {
  let out = '';
  let inClass = false;
  const groups: boolean[] = []; // per open group: is it a (?i: group
  let caseless = 0;
  let prevQuant = false; // the previous token was a quantifier (a second one would be possessive/lazy)
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    let quant = false;
    if (c === '\\') {
      const n = pattern[i + 1];
      if (n === undefined) return 'pattern ends in a backslash';
      if (n === 'p' || n === 'P') {
        const m = /^\{(\w+)\}/.exec(pattern.slice(i + 2));
        const name = m?.[1];
        const set = name === 'L' ? ONIG_L : name === 'N' ? ONIG_N : undefined;
        if (!m || set === undefined) return `unsupported class \\${n}${m?.[0] ?? ''}`;
        if (n === 'P') {
          if (inClass) return 'negated \\P{..} inside a class';
          out += `[^${set}]`;
        } else out += inClass ? set : `[${set}]`;
        i += 1 + m[0].length;
      } else if (n === 's') {
        out += inClass ? ONIG_S : `[${ONIG_S}]`;
        i++;
      } else if (n === 'S') {
        if (inClass) return '\\S inside a class';
        out += `[^${ONIG_S}]`;
        i++;
      } else if ('rntfv'.includes(n)) {
        out += `\\${n}`;
        i++;
      } else if (n === '-') {
        out += inClass ? '\\-' : '-'; // the u flag allows \- only inside a class
        i++;
      } else if ('^$\\.*+?()[]{}|/'.includes(n)) {
        out += `\\${n}`;
        i++;
      } else if (/[ -~]/.test(n) && !/[0-9A-Za-z]/.test(n)) {
        out += n; // an escaped punctuation mark is the mark itself (JavaScript's u flag refuses `\'`)
        i++;
      } else return `unsupported escape \\${n}`;
    } else if (inClass) {
      if (c === ']') inClass = false;
      else if (c === '[') return 'nested class';
      out += c;
    } else if (c === '[') {
      inClass = true;
      out += c;
      if (pattern[i + 1] === '^') {
        out += '^';
        i++;
      }
      if (pattern[i + 1] === ']') return 'class starting with ]';
    } else if (c === '(') {
      const head = pattern.slice(i, i + 4);
      if (head === '(?i:') {
        groups.push(true);
        caseless++;
        out += '(?:';
        i += 3;
      } else if (head.startsWith('(?:') || head.startsWith('(?!') || head.startsWith('(?=')) {
        groups.push(false);
        out += head.slice(0, 3);
        i += 2;
      } else if (pattern[i + 1] === '?') return `unsupported group ${head}`;
      else {
        groups.push(false);
        out += '(?:'; // capture groups change nothing for splitting; keep match arrays small
      }
    } else if (c === ')') {
      const g = groups.pop();
      if (g === undefined) return 'unbalanced )';
      if (g) caseless--;
      out += ')';
    } else if (c === '*' || c === '+' || c === '?') {
      if (prevQuant && c !== '?') return 'possessive quantifier';
      out += c;
      quant = c !== '?' || !prevQuant;
    } else if (c === '{') {
      const m = /^\{\d+(,\d*)?\}/.exec(pattern.slice(i));
      if (!m) return 'literal {';
      out += m[0];
      i += m[0].length - 1;
      quant = true;
    } else if (c === '.' || c === '^' || c === '$') return `unsupported ${c}`;
    else if (caseless > 0 && /\p{L}/u.test(c)) out += foldClass(c);
    else if (c === '|') out += c;
    else out += /[\w '"<>,;:!@#%&=`~-]/.test(c) ? c : `\\u{${c.codePointAt(0)!.toString(16)}}`;
    prevQuant = quant;
    if (c.charCodeAt(0) >= 0xd800 && c.charCodeAt(0) < 0xdc00) return 'astral literal';
  }
  if (inClass || groups.length) return 'unbalanced pattern';
  try {
    return new RegExp(out, 'gu');
  } catch (e) {
    return `JavaScript refuses the translation: ${(e as Error).message}`;
  }
}

const folds = new Map<string, string>();

/** The characters that match letter `c` case-insensitively, as a class. */
function foldClass(c: string): string {
  const known = folds.get(c);
  if (known !== undefined) return known;
  const re = new RegExp(`^${c}$`, 'iu');
  const same: string[] = [];
  for (let cp = 0; cp < 0x10000; cp++) {
    const s = String.fromCharCode(cp);
    if (cp < 0xd800 || cp >= 0xe000) if (re.test(s)) same.push(s);
  }
  const cls = `[${same.join('')}]`;
  folds.set(c, cls);
  return cls;
}
