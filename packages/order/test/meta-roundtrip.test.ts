import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { collect } from '@weft/core';
import { BinFile, dataOrder, encodeNpy, readBinMeta, readInternlmBin, readNpy } from '../src/index.ts';
import { python } from './python.ts';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, 'fixtures', 'meta-roundtrip');
const sample = resolve(here, '../../../data/sample/tokenized');

interface Expected {
  meta: number[][];
  dtype: string;
  tokens: number[][];
}
const expected = JSON.parse(readFileSync(join(fixtures, 'expected.json'), 'utf8')) as Record<string, Expected>;

describe('.bin.meta written by numpy (committed fixture, tools/fixtures/make_meta_fixture.py)', () => {
  for (const name of ['int32.bin', 'int64.bin', 'fortran.bin']) {
    it(`reads ${name} exactly`, async () => {
      const exp = expected[name]!;
      const meta = await readBinMeta(join(fixtures, name));
      expect(Array.from(meta.offsets)).toEqual(exp.meta.map((r) => r[0]));
      expect(Array.from(meta.lengths)).toEqual(exp.meta.map((r) => r[1]));
      const npy = await readNpy(join(fixtures, `${name}.meta`));
      expect(npy.dtype).toBe(exp.dtype);
      expect(npy.fortranOrder).toBe(name === 'fortran.bin');
      const f = await BinFile.open(join(fixtures, name));
      for (let i = 0; i < f.count; i++) expect(Array.from(await f.read(i))).toEqual(exp.tokens[i]);
      await f.close();
      expect((await collect(readInternlmBin(join(fixtures, name)))).map((r) => Array.from(r.tokens))).toEqual(
        exp.tokens,
      );
    });
  }

  it('writes back the same bytes numpy wrote (C-ordered metas)', async () => {
    for (const name of ['int32.bin', 'int64.bin']) {
      const npy = await readNpy(join(fixtures, `${name}.meta`));
      const again = encodeNpy(npy.data as Int32Array | BigInt64Array, npy.shape);
      expect(Buffer.from(again).equals(readFileSync(join(fixtures, `${name}.meta`)))).toBe(true);
    }
  });
});

describe('the shipped tokenized sample (data/sample/tokenized)', () => {
  it('reads the same tokens Python reads through the meta, in data order', async () => {
    const files = await dataOrder(sample, { fileType: '.bin' });
    expect(files).toEqual(['cn/part-000.bin', 'cn/wiki/part-000.bin', 'en/part-000.bin', 'en/part-001.bin']);
    const py = JSON.parse(
      python(
        `
import json, sys, numpy as np
out = {}
for rel in sys.argv[1:]:
    path = '${sample}/' + rel
    meta = np.load(path + '.meta')
    with open(path, 'rb') as f:
        rows = []
        for off, n in meta:
            f.seek(int(off))
            t = json.loads(f.readline())['tokens']
            assert len(t) == n
            rows.append([len(t), sum(t), t[0], t[-1]])
    out[rel] = rows
sys.stdout.write(json.dumps(out))
`,
        files,
      ).toString(),
    ) as Record<string, number[][]>;
    for (const rel of files) {
      const recs = await collect(readInternlmBin(join(sample, rel)));
      const digest = recs.map(({ tokens: t }) => [t.length, t.reduce((a, b) => a + b, 0), t[0], t[t.length - 1]]);
      expect(digest).toEqual(py[rel]);
    }
  });
});
