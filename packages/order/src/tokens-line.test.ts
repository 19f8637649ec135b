import { execFileSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { seededRandom } from '@weft/core';
import { parseTokensLine } from './tokens-line.ts';

it('agrees with Python json.loads on valid, odd and broken lines', () => {
  const r = seededRandom(7);
  const fixed = [
    '{"tokens": [1, -2, 3]}\n',
    '{"tokens":[1,2]}',
    '{"tokens": []}\n',
    '{ "tokens" : [ 0 , -0 , 7 ] }\n',
    '{"tokens": [2147483647, -2147483648]}\n',
    '{"tokens": [2147483648]}\n',
    '{"tokens": [-2147483649]}\n',
    '{"tokens": [12345678901]}\n',
    '{"tokens": [01]}\n',
    '{"tokens": [1, 2\n',
    '{"tokens": [1, 2]',
    '{"tokens": [1,, 2]}',
    '{"tokens": [1.5]}',
    '{"tokens": [1e3]}',
    '{"tokens": "x"}',
    '{"tokens": [1], "x": 2}',
    '{"x": 1, "tokens": [5]}',
    '[1, 2]',
    '',
    '\n',
    '{"tokens": [1 2]}',
    '{"tokens": [-]}',
    '{"tokens": [1]}x',
    '{"tokens": [\t1,\n2 ]}\r\n',
  ];
  const cases = [...fixed];
  for (let k = 0; k < 400; k++) {
    const n = Math.floor(r() * 30);
    const t = Array.from({ length: n }, () => Math.floor((r() - 0.3) * 2 ** (1 + Math.floor(r() * 32))));
    let line = `{"tokens": [${t.join(r() < 0.5 ? ', ' : ',')}]}\n`;
    if (r() < 0.3) {
      // damage it
      const at = Math.floor(r() * line.length);
      line =
        r() < 0.5
          ? line.slice(0, at)
          : line.slice(0, at) + '0123456789-,] x'[Math.floor(r() * 15)] + line.slice(at + 1);
    }
    cases.push(line);
  }
  const py = `
import json, sys
out = []
for line in json.load(sys.stdin):
    try:
        v = json.loads(line)
        t = v["tokens"] if isinstance(v, dict) else None
        ok = isinstance(t, list) and all(type(x) is int and -2**31 <= x < 2**31 for x in t)
        out.append(t if ok else None)
    except Exception:
        out.append(None)
print(json.dumps(out))`;
  const expected = JSON.parse(execFileSync('python3', ['-c', py], { input: JSON.stringify(cases) }).toString()) as (
    number[] | null
  )[];
  cases.forEach((line, k) => {
    const bytes = Buffer.from(line);
    const got = parseTokensLine(bytes, 0, bytes.length);
    if (expected[k] === null) expect(got.ok, `case ${k}: ${JSON.stringify(line)}`).toBe(false);
    else {
      expect(got.ok, `case ${k}: ${JSON.stringify(line)}`).toBe(true);
      if (got.ok) expect(Array.from(got.tokens), `case ${k}`).toEqual(expected[k]);
    }
  });
});

it('stops at the end it is given, even when the buffer goes on', () => {
  const buf = Buffer.from('{"tokens": [1, 23]}\n{"tokens": [4]}\n');
  const cut = parseTokensLine(buf, 0, 16); // '{"tokens": [1, 2'
  expect(cut.ok).toBe(false);
  const first = parseTokensLine(buf, 0, 20);
  expect(first.ok && Array.from(first.tokens)).toEqual([1, 23]);
});
