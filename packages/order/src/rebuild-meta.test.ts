import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isDataError } from '@weft/core';
import { metaBytes, rebuildMeta, scanBinRows } from './rebuild-meta.ts';
import { readBinMeta } from './internlm-bin.ts';
import { python } from '../test/python.ts';

const REPO = new URL('../../../', import.meta.url).pathname;
const SAMPLE = join(REPO, 'data/sample/tokenized');
const work = mkdtempSync(join(tmpdir(), 'weft-meta-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** InternLM tools/tokenizer.py's writer, as it is: JSON lines of tokens, then np.save of int32 (offset, count) rows. */
const TOKENIZER_PY = `
import json, sys, numpy as np
lines, out = json.load(open(sys.argv[1])), sys.argv[2]
meta, off = [], 0
with open(out, "wb") as f:
    for toks in lines:
        b = (json.dumps({"tokens": toks}) + "\\n").encode()
        meta.append((off, len(toks)))
        f.write(b)
        off += len(b)
with open(out + ".meta", "wb") as f:
    np.save(f, np.array(meta, dtype=np.int32))
`;

describe('weft meta (rebuild .bin.meta from the .bin)', () => {
  it("gives the bytes of the sample metas (written by InternLM tokenizer.py's np.save), from the .bin alone", async () => {
    const dir = join(work, 'sample');
    cpSync(SAMPLE, dir, { recursive: true });
    const metas = ['cn/part-000.bin', 'cn/wiki/part-000.bin', 'en/part-000.bin', 'en/part-001.bin'];
    const originals = metas.map((m) => readFileSync(join(dir, `${m}.meta`)));
    for (const m of metas) rmSync(join(dir, `${m}.meta`));
    const res = await rebuildMeta(dir);
    expect(res.map((r) => [r.bin.slice(dir.length + 1), r.status])).toEqual(metas.map((m) => [m, 'written']));
    metas.forEach((m, i) => expect(readFileSync(join(dir, `${m}.meta`)).equals(originals[i]!), m).toBe(true));
    // A second run finds them all matching and writes nothing.
    expect((await rebuildMeta(dir)).map((r) => r.status)).toEqual(['matches', 'matches', 'matches', 'matches']);
  });

  it('matches numpy for odd lines: empty token lists, negative ids, no final newline, a line longer than one read', async () => {
    const lines = [
      [1, -2, 3],
      [],
      [2147483647, -2147483648],
      Array.from({ length: 90_000 }, (_, i) => (i % 7) - 3),
      [5],
    ];
    writeFileSync(join(work, 'odd.json'), JSON.stringify(lines));
    python(TOKENIZER_PY, [join(work, 'odd.json'), join(work, 'odd.bin')]);
    const want = readFileSync(join(work, 'odd.bin.meta'));
    expect(Buffer.from(metaBytes(await scanBinRows(join(work, 'odd.bin')))).equals(want)).toBe(true);
    // Lines split across many small reads (the long line spans thousands of them).
    expect(Buffer.from(metaBytes(await scanBinRows(join(work, 'odd.bin'), { chunkSize: 97 }))).equals(want)).toBe(true);
    // The last line without its newline is still indexed (xtuner reads it).
    writeFileSync(join(work, 'cut.bin'), readFileSync(join(work, 'odd.bin')).subarray(0, -1));
    expect(Buffer.from(metaBytes(await scanBinRows(join(work, 'cut.bin')))).equals(want)).toBe(true);
  });

  it('past 2 GiB of offsets the meta is int64 with the same rows, as numpy writes it', () => {
    const rows = { count: 2, offsets: Float64Array.of(0, 2 ** 31 + 5), lengths: Int32Array.of(3, 4) };
    const want = python(
      'import numpy as np, io, sys\nb = io.BytesIO(); np.save(b, np.array([(0, 3), (2**31 + 5, 4)], dtype=np.int64)); sys.stdout.buffer.write(b.getvalue())',
    );
    expect(Buffer.from(metaBytes(rows)).equals(want)).toBe(true);
  });

  it('an existing meta that differs is reported and kept; --rewrite replaces it; a bad line is a DataError with line and byte', async () => {
    const dir = join(work, 'differs');
    cpSync(join(SAMPLE, 'en'), dir, { recursive: true });
    const good = readFileSync(join(dir, 'part-000.bin.meta'));
    const stale = readFileSync(join(dir, 'part-001.bin.meta'));
    writeFileSync(join(dir, 'part-000.bin.meta'), stale); // the other file's meta
    const [r0, r1] = await rebuildMeta(dir);
    expect(r0).toMatchObject({ status: 'differs', detail: 'it lists 50 lines, the .bin has 80' });
    expect(r1).toMatchObject({ status: 'matches' });
    expect(readFileSync(join(dir, 'part-000.bin.meta')).equals(stale)).toBe(true);
    expect((await rebuildMeta(join(dir, 'part-000.bin'), { rewrite: true }))[0]).toMatchObject({ status: 'rewritten' });
    expect(readFileSync(join(dir, 'part-000.bin.meta')).equals(good)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['part-000.bin', 'part-000.bin.meta', 'part-001.bin', 'part-001.bin.meta']);

    writeFileSync(join(work, 'bad.bin'), '{"tokens": [1, 2]}\n{"tokens": [1, "x"]}\n');
    const e = await rebuildMeta(join(work, 'bad.bin')).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(isDataError(e)).toBe(true);
    expect((e as Error).message).toMatch(/bad\.bin: line 2 \(byte 19\): /);
  });

  it('the missing-.meta error names the `weft meta` command that fixes it', async () => {
    const bin = join(work, 'lone.bin');
    writeFileSync(bin, '{"tokens": [1, 2]}\n{"tokens": [3]}\n');
    const e = await readBinMeta(bin).then(
      () => undefined,
      (x: unknown) => x,
    );
    const cmd = /`weft meta (.*)`/.exec((e as Error).message);
    expect(cmd?.[1]).toBe(bin);
    await rebuildMeta(cmd![1]!);
    expect(Array.from((await readBinMeta(bin)).lengths)).toEqual([2, 1]);
  });

  it('the CLI: `weft meta <folder>` writes the missing meta; a differing one exits 2 naming --rewrite', () => {
    const dir = join(work, 'cli');
    cpSync(join(SAMPLE, 'en'), dir, { recursive: true });
    const good = readFileSync(join(dir, 'part-001.bin.meta'));
    rmSync(join(dir, 'part-001.bin.meta'));
    writeFileSync(join(dir, 'part-000.bin.meta'), good);
    const r = spawnSync(process.execPath, [join(REPO, 'packages/cli/bin/weft.mjs'), 'meta', dir], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stdout).toMatch(
      /^differs +.*part-000\.bin\.meta {2}80 lines {2}\(it lists 50 lines, the \.bin has 80\)\nwritten +.*part-001\.bin\.meta {2}50 lines\n$/,
    );
    expect(r.stderr).toMatch(/1 existing \.meta file\(s\) do not match their \.bin .*--rewrite/);
    expect(readFileSync(join(dir, 'part-001.bin.meta')).equals(good)).toBe(true);
  });
});
