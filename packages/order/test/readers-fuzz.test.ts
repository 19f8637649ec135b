/**
 * Property test of every record reader over seeded hostile inputs (random bytes, truncations,
 * flipped bytes, huge numbers, invalid UTF-8, deep nesting, empty files). For each input:
 * - with `onError: 'skip'` the reader never throws; records out = `emitted`, and
 *   records in (`seen`, also counted here from the bytes for line formats) = out + rejected;
 * - with `onError: 'fail'` it either gives the same records or throws a DataError that names the
 *   file (never a TypeError/RangeError from deep inside);
 * - the input files are never modified (sha256 before and after).
 * A failure names the seed and case, so `FUZZ_SEED=<n>` reproduces it.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, isDataError, mutateBytes, seededRandom, type StageStats } from '@weft/core';
import { readFtdp } from '../src/ftdp.ts';
import { readJsonArray } from '../src/json-array.ts';
import { readJsonl } from '../src/jsonl.ts';
import { readText } from '../src/text.ts';
import { readInternlmBin } from '../src/internlm-bin.ts';
import { metaBytes, scanBinRows } from '../src/rebuild-meta.ts';
import type { CountedSource } from '../src/line-reader.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const CASES = 30;
const REPO = new URL('../../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'weft-fuzz-readers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
const firstLines = (path: string, n: number): Buffer =>
  Buffer.from(readFileSync(path, 'utf8').split('\n').slice(0, n).join('\n') + '\n');

const mutate = mutateBytes;

/** Lines a line reader must count: every `\n`-ended line, plus an unterminated last one. */
function lineCount(bytes: Buffer): number {
  let n = 0;
  for (const b of bytes) if (b === 10) n++;
  return n + (bytes.length > 0 && bytes[bytes.length - 1] !== 10 ? 1 : 0);
}

function rejected(stats: StageStats): number {
  return Object.values(stats.toJSON().rejected).reduce((a, b) => a + b, 0);
}

/** Run `read` on one input both ways and check the properties. */
async function check(
  label: string,
  file: string,
  read: (onError: 'fail' | 'skip') => CountedSource<unknown>,
  expectedIn?: number,
): Promise<void> {
  const before = sha(file);
  const skip = read('skip');
  let records: unknown[] = [];
  try {
    records = await collect(skip);
  } catch (e) {
    expect.fail(`${label}: threw with onError skip: ${(e as Error).stack}`);
  }
  const s = skip.stats.toJSON();
  expect(records.length, `${label}: records out = emitted`).toBe(s.emitted);
  expect(s.seen, `${label}: records in = out + reported ${JSON.stringify(s)}`).toBe(s.emitted + rejected(skip.stats));
  if (expectedIn !== undefined) expect(s.seen, `${label}: records in counted from the bytes`).toBe(expectedIn);
  const outcome = await collect(read('fail')).then(
    (recs) => ({ recs }),
    (error: unknown) => ({ error }),
  );
  // Dropped on purpose (blank lines), not errors: these do not stop a 'fail' run.
  const errors = Object.entries(s.rejected)
    .filter(([k]) => k !== 'empty')
    .reduce((a, [, n]) => a + n, 0);
  if ('recs' in outcome) {
    expect(errors, `${label}: fail mode finished, so skip mode found no bad record ${JSON.stringify(s)}`).toBe(0);
    expect(outcome.recs.length, label).toBe(records.length);
  } else {
    const e = outcome.error;
    if (!isDataError(e)) expect.fail(`${label}: onError fail threw a non-data error: ${(e as Error).stack}`);
    expect(errors, `${label}: fail mode stopped, so skip mode counted a bad record`).toBeGreaterThan(0);
    expect((e as Error).message.startsWith(file), `${label}: the error names the file: ${(e as Error).message}`).toBe(
      true,
    );
  }
  expect(sha(file), `${label}: input unchanged`).toBe(before);
}

describe(`record readers under seeded hostile input (FUZZ_SEED=${SEED})`, () => {
  const lineFormats = [
    { name: 'jsonl', base: firstLines(join(REPO, 'data/sample/openai/chat.jsonl'), 4), read: readJsonl, counts: true },
    { name: 'ftdp', base: firstLines(join(REPO, 'data/sample/ftdp/chat_en.json'), 4), read: readFtdp, counts: true },
    { name: 'text', base: firstLines(join(REPO, 'data/sample/pretrain/en.txt'), 6), read: readText, counts: true },
    {
      name: 'json-array',
      base: Buffer.from(
        JSON.stringify(
          JSON.parse(readFileSync(join(REPO, 'data/sample/alpaca/alpaca.json'), 'utf8')).slice(0, 4),
          null,
          1,
        ),
      ),
      read: readJsonArray,
      counts: false,
    },
  ] as const;
  for (const fmt of lineFormats) {
    it(`${fmt.name}: skip counts every record, fail stops with a DataError, input untouched`, async () => {
      const r = seededRandom(SEED ^ (fmt.name.length * 7919));
      for (let c = 0; c < CASES; c++) {
        const { name, bytes } = mutate(fmt.base, r);
        const file = join(dir, `${fmt.name}-${c}.${fmt.name === 'text' ? 'txt' : 'json'}`);
        writeFileSync(file, bytes);
        const label = `seed ${SEED} ${fmt.name} case ${c} (${name})`;
        // A valid JSON array file is one record per element. A broken one is streamed (the elements
        // before the break, each bad element, then one error for the break): checked for balance only.
        let expectedIn: number | undefined = fmt.counts ? lineCount(bytes) : undefined;
        if (!fmt.counts) {
          try {
            const text = bytes.toString('utf8');
            const v: unknown = text.trim() === '' ? [] : JSON.parse(text);
            expectedIn = Array.isArray(v) && Buffer.from(text, 'utf8').equals(bytes) ? v.length : undefined;
          } catch {
            expectedIn = undefined;
          }
        }
        await check(label, file, (onError) => fmt.read(file, { onError }) as CountedSource<unknown>, expectedIn);
      }
    });
  }

  it('internlm .bin + .meta: corrupt .bin or .meta, records in = max(meta rows, lines) = out + reported', async () => {
    const r = seededRandom(SEED ^ 0xb1);
    const base = firstLines(join(REPO, 'data/sample/tokenized/en/part-001.bin'), 12);
    const goodBin = join(dir, 'good.bin');
    writeFileSync(goodBin, base);
    const goodMeta = Buffer.from(metaBytes(await scanBinRows(goodBin)));
    for (let c = 0; c < CASES; c++) {
      const file = join(dir, `bin-${c}.bin`);
      const target = r() < 0.7 ? 'bin' : 'meta';
      const m = mutate(target === 'bin' ? base : goodMeta, r);
      writeFileSync(file, target === 'bin' ? m.bytes : base);
      writeFileSync(`${file}.meta`, target === 'meta' ? m.bytes : goodMeta);
      const metaBefore = sha(`${file}.meta`);
      const label = `seed ${SEED} bin case ${c} (${target}: ${m.name})`;
      const read = (onError: 'fail' | 'skip'): CountedSource<unknown> => readInternlmBin(file, { onError });
      await check(label, file, read);
      const s = readInternlmBin(file, { onError: 'skip' });
      await collect(s);
      // Every line of the .bin is accounted for (one item for a .meta that cannot be read at all).
      const unreadableMeta =
        (s.stats.toJSON().rejected as Record<string, number>)['bad-meta'] !== undefined || s.stats.seen === 1;
      if (!unreadableMeta)
        expect(s.stats.seen, label).toBeGreaterThanOrEqual(lineCount(target === 'bin' ? m.bytes : base));
      expect(sha(`${file}.meta`), `${label}: .meta unchanged`).toBe(metaBefore);
    }
  });
});
