import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sample } from '@weft/core';
import { loadTokenizer } from '../src/tokenizer.ts';
import { tokenizeFile } from '../src/tokenize-file.ts';
import { lineEncoderPool, tokenizeLines } from '../src/line-encode.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

// The reference is tokenizeFile's stages in this thread (workers: 0): the line workers must give
// the same samples, the same per-stage counters and the same first error, however the file is cut
// into batches.
const dir = tempDir('weft-line-encode-');
const tok = await loadTokenizer('default');
const LIMIT = 3000;
const good = (k: number, loss?: boolean): string =>
  JSON.stringify([
    { role: 'system', content: `sys ${k}` },
    { role: 'user', content: `question ${k} 数据 ${'x'.repeat(k % 7)}` },
    { role: 'assistant', content: `answer ${k} 模型`, ...(loss === undefined ? {} : { loss }) },
  ]);
// Every kind of line the readers tell apart, between good ones.
const bad: [string, Buffer | string][] = [
  ['blank', '   '],
  ['malformed-json', '[{"role": "user", "content": "hi"'],
  ['non-utf8', Buffer.from([0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d])],
  ['bad-record', '{"role": "user"}'],
  ['missing-content', '[{"role": "user"}]'],
  ['empty-conversation', '[{"role": "user", "content": "no reply"}]'],
  [
    'record-too-large',
    JSON.stringify([
      { role: 'user', content: 'y'.repeat(LIMIT) },
      { role: 'assistant', content: 'z' },
    ]),
  ],
  ['no-trainable (kept here)', good(99, false)],
  ['crlf', `${good(98)}\r`],
];
function writeInput(name: string, withLossKey: boolean, tail: string): string {
  const parts: Buffer[] = [];
  let k = 0;
  for (const [, b] of bad) {
    for (let i = 0; i < 3; i++)
      parts.push(Buffer.from(`${good(k++, withLossKey && k % 4 === 0 ? true : undefined)}\n`));
    parts.push(Buffer.concat([Buffer.from(b), Buffer.from('\n')]));
  }
  parts.push(Buffer.from(tail));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat(parts));
  return path;
}
const files = [
  writeInput('plain.json', false, good(500)), // last line without '\n'
  writeInput('loss-key.json', true, `${good(501)}\n`),
  writeInput('long-tail.json', false, 'w'.repeat(LIMIT + 10)), // an unterminated line over the limit at the end
];
const pool = lineEncoderPool(tok, {
  workers: 2,
  format: 'ftdp',
  template: 'internlm2_chat',
  maxLength: 60,
  maxRecordBytes: LIMIT,
});
afterAll(() => pool.close());

interface Run {
  samples: Sample[];
  stats: unknown;
  error?: string;
}
async function drain(s: AsyncIterable<Sample> & { stats: { toJSON(): unknown }[] }): Promise<Run> {
  const samples: Sample[] = [];
  try {
    for await (const x of s)
      samples.push({
        input_ids: Array.from(x.input_ids),
        labels: Array.from(x.labels),
        source: x.source,
      } as unknown as Sample);
  } catch (e) {
    return { samples, stats: null, error: (e as Error).message };
  }
  return { samples, stats: s.stats.map((st) => st.toJSON()) };
}
const reference = (
  file: string,
  onError: 'fail' | 'skip',
  range?: { start: number; end: number; firstLine?: number },
): Promise<Run> =>
  drain(
    tokenizeFile(file, {
      format: 'ftdp',
      tokenizer: tok,
      template: 'internlm2_chat',
      maxLength: 60,
      workers: 0,
      onError,
      maxRecordBytes: LIMIT,
      ...(range ? { range } : {}),
    }),
  );

describe('tokenizeLines (line workers) against tokenizeFile in this thread', () => {
  it('skip: same samples and counters for batch sizes from one byte to the whole file', async () => {
    for (const file of files) {
      const want = await reference(file, 'skip');
      expect(want.error).toBeUndefined();
      expect(want.samples.length).toBeGreaterThan(20);
      for (const batchBytes of [1, 100, 700, 1 << 16]) {
        const got = await drain(tokenizeLines(file, { pool, onError: 'skip', batchBytes }));
        expect(got, `${file} batchBytes ${batchBytes}`).toEqual(want);
      }
    }
  });

  it('fail: the same first error (reason, file, line, byte) as the stages', async () => {
    const want = await reference(files[0]!, 'fail');
    expect(want.error).toMatch(/plain\.json: line 8 \(byte \d+\): malformed JSON/);
    for (const batchBytes of [1, 300, 1 << 16]) {
      const got = await drain(tokenizeLines(files[0]!, { pool, onError: 'fail', batchBytes }));
      // (Samples before the error may come out here, none there: the stages batch ahead; a failed run writes nothing either way.)
      expect(got.error).toBe(want.error);
    }
    // The unterminated over-limit tail, with everything before it skipped... and then failing on it.
    const tail = await reference(files[2]!, 'skip');
    const got = await drain(tokenizeLines(files[2]!, { pool, onError: 'skip', batchBytes: 256 }));
    expect((got.stats as { rejected: Record<string, number> }[])[0]!.rejected['record-too-large']).toBe(2);
    expect(got).toEqual(tail);
  });

  it('byte ranges: lines numbered from firstLine, or named by range when it is unknown', async () => {
    const file = files[1]!;
    const bytes = (await import('node:fs')).readFileSync(file);
    const cut = bytes.indexOf(10, Math.floor(bytes.length / 2)) + 1;
    for (const range of [
      { start: 0, end: cut, firstLine: 0 },
      { start: cut, end: bytes.length, firstLine: 17 },
      { start: cut, end: bytes.length },
    ]) {
      const want = await reference(file, 'skip', range);
      const got = await drain(tokenizeLines(file, { pool, onError: 'skip', range, batchBytes: 500 }));
      expect(got).toEqual(want);
    }
  });
});
