import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonl } from '@weft/order';
import { fileRanges, lineStartAtOrAfter } from './shard-plan.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const base = tempDir('weft-plan-');

describe('byte ranges cut at line starts', () => {
  // Lines of varied length, one longer than the bound, CRLF and a last line without '\n'.
  const lines = Array.from({ length: 60 }, (_, i) => JSON.stringify({ i, t: 'x'.repeat((i * 37) % 90) }));
  lines[20] = JSON.stringify({ i: 20, t: 'y'.repeat(400) });
  const text = `${lines.slice(0, 30).join('\n')}\r\n${lines.slice(30).join('\n')}`;
  const file = join(base, 'a.jsonl');
  writeFileSync(file, text);
  const bytes = readFileSync(file);

  it('ranges tile the file, each starting at a line start, for any bound', async () => {
    for (const bound of [1, 7, 100, 128, 333, 1000, bytes.length, bytes.length + 1]) {
      const ranges = await fileRanges(file, bytes.length, true, bound);
      expect(ranges.length).toBe(bytes.length > bound ? Math.ceil(bytes.length / bound) : 1);
      expect(ranges[0]!.start).toBe(0);
      expect(ranges.at(-1)!.end).toBe(bytes.length);
      ranges.forEach((r, k) => {
        if (k > 0) expect(r.start).toBe(ranges[k - 1]!.end);
        if (r.start > 0 && r.start < bytes.length) expect(bytes[r.start - 1]).toBe(10); // (or empty at the end)
      });
    }
    expect(await lineStartAtOrAfter(file, bytes.length - 2, bytes.length)).toBe(bytes.length); // inside the last line
  });

  it('reading the ranges one by one gives every record once, in order, with absolute byte offsets', async () => {
    const ranges = await fileRanges(file, bytes.length, true, 128);
    const got: { i: number; offset: number | undefined }[] = [];
    for (const r of ranges) {
      for await (const rec of readJsonl(file, { range: r }))
        got.push({ i: (rec.value as { i: number }).i, offset: rec.source.offset });
    }
    expect(got.map((g) => g.i)).toEqual(lines.map((_, i) => i));
    // Offsets of the whole-file read (counted here independently from the text).
    let at = 0;
    const offsets = text.split('\n').map((l) => {
      const o = at;
      at += Buffer.byteLength(l) + 1;
      return o;
    });
    expect(got.map((g) => g.offset)).toEqual(offsets);
  });

  it('an error inside a later range names the file, the range and the absolute byte offset', async () => {
    const bad = join(base, 'bad.jsonl');
    writeFileSync(bad, '{"a": 1}\n{"a": 2}\n{oops\n');
    const read = async () => {
      for await (const _ of readJsonl(bad, { range: { start: 9, end: 24 } })) void _;
    };
    await expect(read()).rejects.toThrow(/bad\.jsonl \[bytes 9\.\.24\]: line 2 \(byte 18\)/);
    const known = async () => {
      for await (const _ of readJsonl(bad, { range: { start: 9, end: 24, firstLine: 1 } })) void _;
    };
    await expect(known()).rejects.toThrow(/bad\.jsonl: line 3 \(byte 18\)/);
  });
});
