import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Tokenizer } from '../src/tokenizer.ts';

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const REFERENCE = `${REPO}tools/reference/`;

/** The fake tokenizer of tools/reference/xtuner_encode.py: code point + 10; BOS [1], EOS [2]. */
export function charTokenizer(bos = true): Tokenizer {
  const enc = (t: string): Int32Array => Int32Array.from([...t].map((c) => c.codePointAt(0)! + 10));
  return {
    backend: 'js',
    spec: { dir: '(char)', backend: 'js' },
    bosIds: bos ? [1] : [],
    eosIds: [2],
    bosToken: undefined,
    eosToken: undefined,
    vocabSize: 0x110000 + 10,
    className: 'Char',
    chatTemplate: undefined,
    encode: async (t) => enc(t),
    encodeBatch: async (ts) => ts.map(enc),
    decode: async (ids) =>
      Array.from(ids, (i) => (i === 1 ? '<BOS>' : i === 2 ? '<EOS>' : String.fromCodePoint(i - 10))).join(''),
    tokenToId: () => undefined,
  };
}

/** Run a Python reference script and return its stdout. */
export function python(script: string, args: string[]): string {
  return execFileSync('python3', [`${REFERENCE}${script}`, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
}

/** The template case: a 2-turn conversation with a system message and a `loss: false` turn. */
export const TWO_TURN = [
  { role: 'system', content: 'SYS' },
  { role: 'user', content: 'U1' },
  { role: 'assistant', content: 'A1', loss: false },
  { role: 'user', content: 'U2' },
  { role: 'assistant', content: 'A2', loss: true },
];
