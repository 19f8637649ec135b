import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, DataError } from '@weft/core';
import { readFtdp } from './ftdp.ts';
import { readJsonArray } from './json-array.ts';
import { splitJsonArray } from './json-array-split.ts';
import { readJsonl } from './jsonl.ts';
import { fileChunks, splitLines } from './lines.ts';
import { readInternlmBin } from './internlm-bin.ts';
import { encodeNpy } from './npy.ts';
import { DEFAULT_MAX_RECORD_BYTES } from './record-size.ts';
import { python } from '../test/python.ts';
import { balanced, failure, fileWriter } from '../test/reader-helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const dir = tempDir('weft-record-size-');
const file = fileWriter(dir);

describe('maxRecordBytes: line readers', () => {
  const big = JSON.stringify([{ role: 'user', content: 'x'.repeat(5000) }]);
  const small = JSON.stringify([{ role: 'user', content: 'hi' }]);
  const p = file('chat.json', `${small}\n${big}\n${small}\n${big}`);

  it('splitLines cuts over-limit lines at any chunk size, keeping line numbers and offsets', async () => {
    for (const chunk of [7, 100, 4096, 1 << 20]) {
      const lines = [];
      for await (const b of splitLines(fileChunks(p, chunk), p, 1000)) lines.push(...b);
      expect(lines.map((l) => [l.line, l.offset, l.tooLarge ?? l.bytes.length])).toEqual([
        [1, 0, small.length],
        [2, small.length + 1, big.length],
        [3, small.length + big.length + 2, small.length],
        [4, 2 * small.length + big.length + 3, big.length],
      ]);
    }
  });

  it('fails naming file, line, offset and size, or skips and counts', async () => {
    const e = await failure(collect(readFtdp(p, { maxRecordBytes: 1000 })));
    expect(e.message).toBe(
      `${p}: line 2 (byte ${small.length + 1}): record of 5.0 kB (${big.length} bytes) exceeds --max-record-bytes 1000 (1.0 kB): ` +
        'raise --max-record-bytes if the record is meant to be this large, or pass --on-error skip to leave it out',
    );
    expect(e.reason).toBe('record-too-large');
    const src = readJsonl(p, { maxRecordBytes: 1000, onError: 'skip' });
    expect((await collect(src)).map((r) => r.source.line)).toEqual([1, 3]);
    expect(src.stats.toJSON().rejected).toEqual({ 'record-too-large': 2 });
    balanced(src.stats);
    // The default limit reads them all.
    expect(await collect(readFtdp(p))).toHaveLength(4);
    expect(DEFAULT_MAX_RECORD_BYTES).toBe(256 * 1024 * 1024);
    expect(() => readJsonl(p, { maxRecordBytes: 0 })).toThrow(/maxRecordBytes must be a positive integer/);
  });
});

describe('readJsonArray: streaming elements', () => {
  it('gives the elements Python json.load gives, at any chunk size', async () => {
    const doc = ' [ {"a": "x,]}[{\\"\\\\"}, [1, [2, {"b": []}]], "s\\"]", -1.5e3, true, null, {}, [] ,"中文\\n"]\n ';
    const p = file('tricky.json', doc);
    const expected = JSON.parse(
      python('import json,sys\nsys.stdout.write(json.dumps(json.load(open(sys.argv[1], encoding="utf-8"))))', [
        p,
      ]).toString(),
    ) as unknown[];
    for (const chunk of [1, 3, 64]) {
      const els = [];
      for await (const e of splitJsonArray(fileChunks(p, chunk), p)) {
        if (e instanceof DataError) throw e;
        els.push(JSON.parse(e.bytes.toString('utf8')) as unknown);
      }
      expect(els).toEqual(expected);
    }
    expect(await collect(readJsonArray(file('empty.json', '[ ]')))).toEqual([]);
  });

  it('an element over the limit is reported with its line and skipped; the next one is read', async () => {
    const p = file('big.json', `[\n{"n": 1},\n{"n": 2, "pad": "${'y'.repeat(3000)}"},\n{"n": 3}\n]`);
    const e = await failure(collect(readJsonArray(p, { maxRecordBytes: 1000 })));
    expect(e.message).toMatch(
      /big\.json: line 3 \(byte 12\): record of 3\.0 kB \(\d+ bytes\) exceeds --max-record-bytes 1000/,
    );
    const src = readJsonArray(p, { maxRecordBytes: 1000, onError: 'skip' });
    expect((await collect(src)).map((r) => [r.value, r.index, r.source.line])).toEqual([
      [{ n: 1 }, 0, 2],
      [{ n: 3 }, 2, 4],
    ]);
    expect(src.stats.toJSON().rejected).toEqual({ 'record-too-large': 1 });
    balanced(src.stats);
  });

  it('broken structure and bad elements name their line', async () => {
    const cases: [string, RegExp][] = [
      ['[1, 2', /line 1 \(byte 5\): malformed JSON at column 6 \(the document ends before its closing '\]'\)/],
      ['[1,\n,2]', /line 2 \(byte 4\): malformed JSON at column 1 \(missing value before ','\)/],
      ['[1]\n]', /line 2 \(byte 4\): malformed JSON at column 1 \(unexpected data after the closing '\]'\)/],
      ['[{"a": [1}]', /line 1 \(byte 9\): malformed JSON at column 10 \('\}' does not close '\['\)/],
      ['"abc"', /expected a JSON array of records, got string/],
      ['[1,\n  {"a": tru}]', /line 2 \(byte \d+\): malformed JSON at column 9 .* in element 1/],
    ];
    for (const [doc, re] of cases)
      expect((await failure(collect(readJsonArray(file('c.json', doc))))).message).toMatch(re);
    expect(await collect(readJsonArray(file('blank.json', ' \n')))).toEqual([]);
    const src = readJsonArray(file('bad-el.json', '[{"a": 1},\n{"a": tru},\n{"a": 3}]'), { onError: 'skip' });
    expect((await collect(src)).map((r) => r.value)).toEqual([{ a: 1 }, { a: 3 }]);
    expect(src.stats.toJSON().rejected).toEqual({ 'malformed-json': 1 });
  });
});

describe('maxRecordBytes: InternLM .bin lines', () => {
  it('an over-limit line is reported with its line, byte and size (from the .meta), and skipped', async () => {
    const sub = mkdtempSync(join(dir, 'bin-'));
    const bin = join(sub, 'a.bin');
    const docs = [
      [1, 2, 3],
      Array.from({ length: 400 }, (_, i) => i + 1000),
      [4, -5],
      Array.from({ length: 300 }, (_, i) => -i - 7),
    ];
    const lines = docs.map((t) => `${JSON.stringify({ tokens: t })}\n`);
    writeFileSync(bin, lines.join(''));
    const meta: number[] = [];
    let off = 0;
    for (const [k, l] of lines.entries()) {
      meta.push(off, docs[k]!.length);
      off += Buffer.byteLength(l);
    }
    writeFileSync(`${bin}.meta`, encodeNpy(Int32Array.from(meta), [docs.length, 2]));
    const e = await failure(collect(readInternlmBin(bin, { maxRecordBytes: 1000, chunkSize: 64 })));
    expect(e.message).toMatch(
      new RegExp(
        `a\\.bin: line 2 \\(byte ${lines[0]!.length}\\): record of 2\\.0 kB \\(${lines[1]!.length} bytes\\) exceeds --max-record-bytes 1000`,
      ),
    );
    for (const chunkSize of [64, 1 << 20]) {
      const src = readInternlmBin(bin, { maxRecordBytes: 1000, chunkSize, onError: 'skip' });
      expect((await collect(src)).map((r) => Array.from(r.tokens))).toEqual([docs[0], docs[2]]);
      expect(src.stats.toJSON().rejected).toEqual({ 'record-too-large': 2 });
      balanced(src.stats);
    }
  });
});
