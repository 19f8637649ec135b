/**
 * Plain `weft tokenize`'s reader (`internlmDocs`: .txt, .jsonl, .json) over seeded hostile files:
 * with onError 'skip' it never throws and every record is a document or counted; with 'fail'
 * it stops with a DataError naming the file; the input is never modified.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, isDataError, mutateBytes, seededRandom } from '@weft/core';
import { internlmDocs } from '../src/internlm-tokenize.ts';
import type { DatasetFormat } from '../src/formats.ts';
import { tokenizeFile } from '../src/tokenize-file.ts';
import { charTokenizer, FIXTURES } from './helpers.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const REPO = new URL('../../../', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'weft-docs-fuzz-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

/** Records of a file as the reader must account for them, counted here from the bytes. */
function recordsIn(ext: string, bytes: Buffer): number | undefined {
  if (ext === 'jsonl') {
    // Every line that is not blank (a line that is not UTF-8 is a bad record, not a blank one).
    return bytes
      .toString('latin1')
      .split('\n')
      .filter(
        (l, i, all) =>
          (i < all.length - 1 || l !== '') &&
          (!Buffer.from(l, 'latin1').toString('utf8').includes('\ufffd')
            ? Buffer.from(l, 'latin1').toString('utf8').trim() !== ''
            : true),
      ).length;
  }
  if (ext === 'json') {
    try {
      const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      if (text.trim() === '') return 0;
      const v: unknown = JSON.parse(text);
      return Array.isArray(v) ? v.length : 1;
    } catch {
      return 1;
    }
  }
  return undefined;
}

describe(`plain tokenize reader under seeded hostile input (FUZZ_SEED=${SEED})`, () => {
  const bases: [string, Buffer][] = [
    [
      'txt',
      Buffer.from(
        readFileSync(join(REPO, 'data/sample/pretrain/en.txt'), 'utf8').split('\n').slice(0, 6).join('\n') + '\n',
      ),
    ],
    [
      'jsonl',
      Buffer.from(
        readFileSync(join(REPO, 'data/sample/pretrain/mixed.jsonl'), 'utf8').split('\n').slice(0, 6).join('\n') + '\n',
      ),
    ],
    ['json', Buffer.from(JSON.stringify([{ text: 'one' }, { text: 'two' }, { text: '三' }], null, 1))],
  ];
  for (const [ext, base] of bases) {
    it(`.${ext}: skip never throws and accounts for every record; fail throws only DataErrors`, async () => {
      const r = seededRandom(SEED ^ ext.length);
      for (let c = 0; c < 40; c++) {
        const { name, bytes } = mutateBytes(base, r);
        const file = join(work, `case-${c}.${ext}`);
        writeFileSync(file, bytes);
        const before = sha(file);
        const label = `seed ${SEED} .${ext} case ${c} (${name})`;
        const skipped: Record<string, number> = {};
        const docs = await collect(internlmDocs(file, { onError: 'skip', skipped })).catch((e: unknown) =>
          expect.fail(`${label}: skip threw ${(e as Error).stack}`),
        );
        const reported = Object.values(skipped).reduce((a, b) => a + b, 0);
        const want = recordsIn(ext, bytes);
        if (want !== undefined)
          expect(docs.length + reported, `${label}: records in = documents + reported ${JSON.stringify(skipped)}`).toBe(
            want,
          );
        const fail = await collect(internlmDocs(file, { onError: 'fail' })).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (fail !== undefined) {
          expect(isDataError(fail), `${label}: ${(fail as Error).stack}`).toBe(true);
          expect((fail as Error).message.startsWith(file), label).toBe(true);
        } else expect(reported, `${label}: fail mode finished, so nothing was bad`).toBe(0);
        expect(sha(file), label).toBe(before);
      }
    });
  }

  const formats: [DatasetFormat, string][] = [
    ['ftdp', 'ftdp.json'],
    ['openai', 'openai.jsonl'],
    ['alpaca', 'alpaca.json'],
    ['conversation', 'conversation.jsonl'],
    ['pretrain', 'pretrain.jsonl'],
  ];
  for (const [format, fixture] of formats) {
    it(`--format ${format}: every stage balances (seen = emitted + rejected) and hands on what it emitted`, async () => {
      const r = seededRandom(SEED ^ (format.length * 31));
      const base = readFileSync(join(FIXTURES, fixture));
      for (let c = 0; c < 25; c++) {
        const { name, bytes } = mutateBytes(base, r);
        const file = join(work, `${format}-${c}${fixture.slice(fixture.indexOf('.'))}`);
        writeFileSync(file, bytes);
        const label = `seed ${SEED} ${format} case ${c} (${name})`;
        const s = tokenizeFile(file, { format, tokenizer: charTokenizer(), onError: 'skip' });
        const samples = await collect(s).catch((e: unknown) =>
          expect.fail(`${label}: skip threw ${(e as Error).stack}`),
        );
        const st = s.stats.map((x) => x.toJSON());
        for (const x of st)
          expect(x.seen, `${label}: ${JSON.stringify(st)}`).toBe(
            x.emitted + Object.values(x.rejected).reduce((a, b) => a + b, 0),
          );
        for (let k = 1; k < st.length; k++)
          expect(st[k]!.seen, `${label}: stage ${st[k]!.name} ${JSON.stringify(st)}`).toBe(st[k - 1]!.emitted);
        expect(samples.length, label).toBe(st[st.length - 1]!.emitted);
        const fail = await collect(tokenizeFile(file, { format, tokenizer: charTokenizer(), onError: 'fail' })).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (fail !== undefined) expect(isDataError(fail), `${label}: ${(fail as Error).stack}`).toBe(true);
      }
    });
  }
});
