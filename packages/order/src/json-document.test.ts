import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isDataError, seededRandom } from '@weft/core';
import { jsonErrorIndex, parseJsonDocument } from './json-document.ts';
import { python } from '../test/python.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const work = mkdtempSync(join(tmpdir(), 'weft-jsondoc-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('jsonErrorIndex', () => {
  it(`finds the error where Python's json module does (seeded mutations, FUZZ_SEED=${SEED})`, () => {
    const r = seededRandom(SEED);
    const base = JSON.stringify(
      [
        { instruction: 'Add', input: '1 + "1"', output: '2', n: [1, -2.5, 3e4, true, null] },
        { a: { b: [] }, c: 'x\\ny' },
      ],
      null,
      1,
    );
    // ASCII edits only (Python counts characters, we count UTF-16 units); no NaN/Infinity, which Python accepts.
    const pieces = [
      '',
      ' ',
      '\n',
      ',',
      ':',
      '[',
      ']',
      '{',
      '}',
      '"',
      '\\',
      '\\u12',
      '0',
      '01',
      '-',
      '.',
      'e',
      'tru',
      'null',
      '\t',
      '\u0001',
    ];
    const cases: string[] = [];
    for (let k = 0; k < 400; k++) {
      let s = base;
      for (let m = 0; m < 1 + Math.floor(r() * 3); m++) {
        const at = Math.floor(r() * (s.length + 1)),
          cut = Math.floor(r() * 3);
        s = s.slice(0, at) + pieces[Math.floor(r() * pieces.length)] + s.slice(at + cut);
      }
      cases.push(s);
    }
    writeFileSync(join(work, 'cases.json'), JSON.stringify(cases));
    const py = JSON.parse(
      python(
        `
import json, sys
out = []
for s in json.load(open(sys.argv[1])):
    try:
        json.loads(s); out.append(-1)
    except json.JSONDecodeError as e:
        out.append(e.pos)
print(json.dumps(out))`,
        [join(work, 'cases.json')],
      ).toString(),
    ) as number[];
    cases.forEach((c, k) => expect(jsonErrorIndex(c), `seed ${SEED} case ${k}: ${JSON.stringify(c)}`).toBe(py[k]));
    expect(py.filter((p) => p >= 0).length).toBeGreaterThan(200);
  });

  it('is iterative: 200k nested arrays neither overflow nor pass', () => {
    expect(jsonErrorIndex('['.repeat(200_000))).toBe(200_000);
    expect(jsonErrorIndex(`${'['.repeat(200_000)}${']'.repeat(200_000)}`)).toBe(-1);
  });
});

describe('parseJsonDocument', () => {
  it('names line, column and byte, and spots JSON lines', () => {
    let e: unknown;
    try {
      parseJsonDocument('{"text": "é"}\n{"text": "b"}\n', 'x.json');
    } catch (x) {
      e = x;
    }
    expect(isDataError(e)).toBe(true);
    expect((e as Error).message).toBe(
      'x.json: line 2 (byte 15): malformed JSON at column 1 (Unexpected non-whitespace character after JSON at position 14); ' +
        'the file looks like JSON lines (one record per line), not one JSON document: name it .jsonl',
    );
    expect(parseJsonDocument(' \n', 'x.json')).toBeUndefined();
  });
});
