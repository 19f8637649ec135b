import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, DataError } from '@weft/core';
import { BinFile, readBinMeta, readInternlmBin } from './internlm-bin.ts';
import { encodeNpy, parseNpy } from './npy.ts';
import { python } from '../test/python.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

/** Write a .bin/.meta pair the way InternLM's tokenizer.py does (json.dumps + np.save). */
const WRITER = `
import json, sys, numpy as np
path, dtype = sys.argv[1], sys.argv[2]
rng = np.random.RandomState(7)
docs = []
for i in range(40):
    n = int(rng.randint(0, 300))
    t = rng.randint(-151642, 151643, size=n).tolist()
    docs.append(t)
docs[3] = []
docs[5] = [0, -1, 2147483647, -2147483648]
meta, off = [], 0
with open(path, 'w') as f:
    for t in docs:
        line = json.dumps({"tokens": t}) + "\\n"
        f.write(line)
        meta.append((off, len(t)))
        off += len(line.encode())
np.save(path + '.meta', np.array(meta, dtype=dtype))
with open(path + '.json', 'w') as f:
    json.dump(docs, f)
`;

function makeBin(dtype = 'int32'): { bin: string; docs: number[][] } {
  const dir = tempDir('weft-bin-');
  const bin = join(dir, 'a.bin');
  python(WRITER, [bin, dtype]);
  // np.save appends .npy to a name without it: move it to the InternLM name.
  writeFileSync(`${bin}.meta`, readFileSync(`${bin}.meta.npy`));
  return { bin, docs: JSON.parse(readFileSync(`${bin}.json`, 'utf8')) as number[][] };
}

describe('InternLM .bin reading', () => {
  it('reads every line like Python does, at random and in order, with int32 or int64 metas', async () => {
    for (const dtype of ['int32', 'int64']) {
      const { bin, docs } = makeBin(dtype);
      const meta = await readBinMeta(bin);
      expect(meta.count).toBe(docs.length);
      expect(Array.from(meta.lengths)).toEqual(docs.map((d) => d.length));
      for (const inMemory of [false, true]) {
        const f = await BinFile.open(bin, { inMemory });
        for (const i of [5, 0, 39, 3, 17]) expect(Array.from(await f.read(i))).toEqual(docs[i]);
        await f.close();
      }
      const recs = await collect(readInternlmBin(bin));
      expect(recs.map((r) => Array.from(r.tokens))).toEqual(docs);
      expect(recs[2]!.source).toEqual({ file: bin, line: 3, offset: meta.offsets[2] });
    }
  });

  it('drops short lines by the meta and counts them (minLength)', async () => {
    const { bin, docs } = makeBin();
    const src = readInternlmBin(bin, { minLength: 100 });
    const recs = await collect(src);
    expect(recs.map((r) => Array.from(r.tokens))).toEqual(docs.filter((d) => d.length >= 100));
    const s = src.stats.toJSON();
    expect(s.seen).toBe(docs.length);
    expect(s.seen).toBe(s.emitted + (s.rejected.short ?? 0));
  });

  it('a truncated .bin: DataError naming file and line, or skipped and counted', async () => {
    const { bin, docs } = makeBin();
    const meta = await readBinMeta(bin);
    // Cut in the middle of line 31: lines 31..40 are damaged or gone.
    truncateSync(bin, meta.offsets[30]! + 10);
    await expect(collect(readInternlmBin(bin))).rejects.toThrow(
      new RegExp(`a\\.bin: line 31 \\(byte ${meta.offsets[30]}\\): malformed JSON.*truncated`),
    );
    await expect(readBinMeta(bin)).rejects.toThrow(/offset \d+ is past the end .* truncated/);
    const src = readInternlmBin(bin, { onError: 'skip' });
    const recs = await collect(src);
    expect(recs.map((r) => Array.from(r.tokens))).toEqual(docs.slice(0, 30));
    const s = src.stats.toJSON();
    expect(s.rejected).toEqual({ 'malformed-json': 1, truncated: 9 });
    expect(s.seen).toBe(s.emitted + 10);
  });

  it('a .meta whose offsets disagree with the .bin', async () => {
    const { bin, docs } = makeBin();
    const arr = parseNpy(readFileSync(`${bin}.meta`), 'm');
    const data = arr.data as Int32Array;
    data[2 * 10] = data[2 * 10]! + 3; // row 10's offset points 3 bytes into its line
    writeFileSync(`${bin}.meta`, encodeNpy(data, arr.shape));
    await expect(collect(readInternlmBin(bin))).rejects.toThrow(
      /a\.bin: line 11 \(byte \d+\): line starts at byte \d+ but the \.meta says \d+/,
    );
    for (const inMemory of [false, true]) {
      const f = await BinFile.open(bin, { inMemory });
      await expect(f.read(9)).rejects.toThrow(/line 10 .*next line at/);
      await expect(f.read(10)).rejects.toThrow(DataError);
      await f.close();
    }
    const src = readInternlmBin(bin, { onError: 'skip' });
    expect((await collect(src)).length).toBe(docs.length - 1);
    expect(src.stats.toJSON().rejected).toEqual({ 'meta-mismatch': 1 });
  });

  it('a token count that disagrees with the .meta', async () => {
    const { bin } = makeBin();
    const arr = parseNpy(readFileSync(`${bin}.meta`), 'm');
    const data = arr.data as Int32Array;
    data[2 * 4 + 1] = data[2 * 4 + 1]! + 1;
    writeFileSync(`${bin}.meta`, encodeNpy(data, arr.shape));
    await expect(collect(readInternlmBin(bin))).rejects.toThrow(/line 5 .*tokens but the \.meta says/);
    const f = await BinFile.open(bin);
    await expect(f.read(4)).rejects.toThrow(/line 5 .*tokens but the \.meta says/);
    await f.close();
  });

  it('rejects a wrong schema and a wrongly shaped meta', async () => {
    const dir = tempDir('weft-bin-');
    const bin = join(dir, 'b.bin');
    const lines = ['{"tokens": [1, 2]}\n', '{"ids": [1]}\n', '{"tokens": [1.5]}\n', '{"tokens":[3,4],"x":1}\n'];
    writeFileSync(bin, lines.join(''));
    let off = 0;
    const rows: number[] = [];
    for (const l of lines) {
      rows.push(off, 2);
      off += l.length;
    }
    rows[3] = 1;
    rows[5] = 1;
    writeFileSync(`${bin}.meta`, encodeNpy(Int32Array.from(rows), [4, 2]));
    const src = readInternlmBin(bin, { onError: 'skip' });
    const recs = await collect(src);
    expect(recs.map((r) => Array.from(r.tokens))).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(src.stats.toJSON().rejected).toEqual({ schema: 2 });
    await expect(collect(readInternlmBin(bin))).rejects.toThrow(/b\.bin: line 2 \(byte 19\): expected "tokens" array/);
    const lone = join(dir, 'lone.bin');
    writeFileSync(lone, '{"tokens": [1]}\n');
    await expect(collect(readInternlmBin(lone))).rejects.toThrow(/lone\.bin: missing .*lone\.bin\.meta/);
    await expect(readBinMeta(lone)).rejects.toThrow(/lone\.bin: missing .*lone\.bin\.meta/);
    writeFileSync(join(dir, 'gone.bin.meta'), encodeNpy(Int32Array.from([0, 1]), [1, 2]));
    await expect(collect(readInternlmBin(join(dir, 'gone.bin')))).rejects.toThrow(/gone\.bin: cannot open the \.bin/);
    writeFileSync(`${bin}.meta`, encodeNpy(Int32Array.from(rows), [8]));
    await expect(readBinMeta(bin)).rejects.toThrow(/shape is \(8\), expected \(N, 2\)/);
  });
});
