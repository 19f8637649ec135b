/**
 * Plain `weft tokenize` (no --format) reads a `.json` as one JSON array. A JSON-lines file named
 * `.json` used to fail with "malformed JSON (... at position 535)" and no line: now the error
 * names the line and byte and says to rename the file or give --format.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isDataError } from '@weft/core';
import { textToBin } from '../src/internlm-tokenize.ts';
import { charTokenizer } from './helpers.ts';

const work = mkdtempSync(join(tmpdir(), 'weft-json-named-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('tokenize a .json that is really JSON lines', () => {
  it('fails naming line 2 and its byte, suggesting .jsonl or --format; writes nothing', async () => {
    const recs = [{ text: 'first document, long enough' }, { text: 'second' }, { text: 'third' }];
    const input = join(work, 'docs.json');
    writeFileSync(input, recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const firstLen = Buffer.byteLength(JSON.stringify(recs[0])) + 1;
    const out = join(work, 'en', 'docs.bin');
    const e = await textToBin(input, out, { tokenizer: charTokenizer() }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(isDataError(e)).toBe(true);
    expect((e as Error).message).toBe(
      `${input}: line 2 (byte ${firstLen}): malformed JSON at column 1 (Unexpected non-whitespace character after JSON at position ${firstLen}); ` +
        'the file looks like JSON lines (one record per line), not one JSON document: name it .jsonl, or give --format (ftdp files are JSON lines named .json; see weft list-formats)',
    );
    expect(existsSync(out)).toBe(false);
    // The same lines named .jsonl tokenize fine.
    writeFileSync(join(work, 'docs.jsonl'), readFileSync(input));
    expect((await textToBin(join(work, 'docs.jsonl'), out, { tokenizer: charTokenizer() })).lines).toBe(3);
  });

  it('a broken JSON array names the line of the error; an empty .json is no documents (line 4 column 2, as Python json says)', async () => {
    const input = join(work, 'arr.json');
    writeFileSync(input, '[\n {"text": "a"},\n {"text": "b"}\n {"text": "c"}\n]\n');
    const e = await textToBin(input, join(work, 'en', 'arr.bin'), { tokenizer: charTokenizer() }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect((e as Error).message).toMatch(/arr\.json: line 4 \(byte 34\): malformed JSON at column 2 /);
    writeFileSync(join(work, 'empty.json'), '');
    expect(
      (await textToBin(join(work, 'empty.json'), join(work, 'en', 'empty.bin'), { tokenizer: charTokenizer() })).lines,
    ).toBe(0);
  });
});
