import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError } from '@weft/core';
import { fileChunks, lineText, splitLines, type RawLine } from './lines.ts';
import { python } from '../test/python.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

/** Python's view of a file's lines: [line number, byte offset, text]. */
const PY_LINES = `
import json, sys
out, off = [], 0
with open(sys.argv[1], 'rb') as f:
    for i, b in enumerate(f, 1):
        out.append([i, off, b.rstrip(b'\\n').rstrip(b'\\r').decode('utf-8')])
        off += len(b)
sys.stdout.write(json.dumps(out))
`;

async function allLines(path: string, chunk: number): Promise<RawLine[]> {
  const out: RawLine[] = [];
  for await (const b of splitLines(fileChunks(path, chunk), path)) out.push(...b);
  return out;
}

describe('splitLines', () => {
  it("gives Python's line numbers, byte offsets and text at any chunk size", async () => {
    const dir = tempDir('weft-lines-');
    const path = join(dir, 'mixed.txt');
    const parts = [
      'hello',
      '',
      '中文的一行，带标点。',
      'crlf line\r',
      'emoji 😀 and 𝔘',
      'x'.repeat(1000),
      '',
      'last line without newline',
    ];
    writeFileSync(path, parts.join('\n'));
    const expected = JSON.parse(python(PY_LINES, [path]).toString()) as [number, number, string][];
    for (const chunk of [1, 3, 7, 64, 1 << 20]) {
      const got = (await allLines(path, chunk)).map((l) => [l.line, l.offset, lineText(l)]);
      expect(got).toEqual(expected);
    }
  });

  it('a file ending in a newline has no extra empty line; an empty file has none', async () => {
    const dir = tempDir('weft-lines-');
    writeFileSync(join(dir, 'a'), 'a\nb\n');
    writeFileSync(join(dir, 'e'), '');
    expect((await allLines(join(dir, 'a'), 2)).map(lineText)).toEqual(['a', 'b']);
    expect(await allLines(join(dir, 'e'), 2)).toEqual([]);
  });

  it('a non-UTF-8 line is a DataError with file, line and byte offset', () => {
    const raw: RawLine = {
      bytes: Buffer.from([0x61, 0x62, 0xe4, 0xb8, 0xff, 0x63]),
      line: 4,
      offset: 100,
      file: 'x.txt',
    };
    const err = (() => {
      try {
        lineText(raw);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).message).toBe(
      'x.txt: line 4 (byte 100): line is not valid UTF-8 (first bad byte at 102): re-encode the file as UTF-8',
    );
    expect((err as DataError).reason).toBe('non-utf8');
  });
});
