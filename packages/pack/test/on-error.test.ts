/**
 * `--on-error skip` on tokenized (.bin) input, for `pack` and `process --format internlm --pack`:
 * bad lines are left out before the packing layout is drawn, so the packs are exactly those of
 * a clean folder without those lines (written by numpy), and every line is counted.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, isDataError, mutateBytes, seededRandom, type Pack } from '@weft/core';
import { checkedBinSources } from '../src/checked-bin-sources.ts';
import { PackedDataset } from '../src/packed-dataset.ts';
import { writeBinFolderWithNumpy } from './write-bin.ts';

const WEFT = new URL('../../cli/bin/weft.mjs', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'weft-on-error-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Deterministic token lines: file f, line i has 3 + (7i + 5f) % 11 tokens, some without loss. */
const lines = (f: number, n: number): number[][] =>
  Array.from({ length: n }, (_, i) =>
    Array.from({ length: 3 + ((7 * i + 5 * f) % 11) }, (_, k) => (k % 4 === 0 ? -1 : 1) * (100 * f + 10 * i + k + 1)),
  );
const FILES = [lines(0, 12), lines(1, 9)];
const BAD_LINE = 4; // of file 0: corrupted in place (same length, so the .meta offsets still hold)

function dirtyFolder(): string {
  const dir = join(work, 'dirty');
  const [f0] = writeBinFolderWithNumpy(dir, FILES);
  const text = readFileSync(f0!, 'utf8').split('\n');
  text[BAD_LINE] = text[BAD_LINE]!.replace('"tokens"', '"tokenz"');
  writeFileSync(f0!, text.join('\n'));
  // A .bin with no .meta at all: one file left out, counted once.
  writeFileSync(join(dir, '002.bin'), '{"tokens": [1, 2, 3]}\n');
  return dir;
}

function cleanFolder(): string {
  const dir = join(work, 'clean');
  writeBinFolderWithNumpy(dir, [FILES[0]!.filter((_, i) => i !== BAD_LINE), FILES[1]!]);
  return dir;
}

const asRows = (packs: Pack[]): number[][][] =>
  packs.map((p) => [p.input_ids, p.labels, p.cumulative_len, p.position_ids].map((a) => Array.from(a)));

describe('--on-error skip for .bin input', () => {
  const dirty = dirtyFolder();
  const clean = cleanFolder();
  const dirtyFiles = ['000.bin', '001.bin', '002.bin'].map((f) => join(dirty, f));

  it('library: the packs equal those of the folder without the bad lines; lines = kept + skipped by reason', async () => {
    const checked = await checkedBinSources(dirtyFiles, { onError: 'skip', minLength: 4 });
    const total = FILES[0]!.length + FILES[1]!.length + 1;
    const short = FILES.flat().filter((l, i) => l.length < 4 && i !== BAD_LINE).length;
    expect(checked.lines).toBe(total);
    expect(checked.skipped).toEqual({ schema: 1, 'missing-meta': 1, ...(short > 0 ? { short } : {}) });
    expect(checked.kept + Object.values(checked.skipped).reduce((a, b) => a + b, 0)).toBe(checked.lines);
    const opts = { packedLength: 16, seed: 1024, minLength: 4 };
    const got = PackedDataset.fromBinSources(checked.sources, opts);
    const want = await PackedDataset.fromBinFolder(clean, opts);
    expect(got.length).toBeGreaterThan(3);
    expect(asRows(await collect(got.packs()))).toEqual(asRows(await collect(want.packs())));
    // Worker threads rebuild each file's plan: they must pack the same kept lines.
    expect(asRows(await collect(got.packs(0, 4, 2)))).toEqual(asRows(await collect(want.packs())));
  });

  it('library: with fail (the default) the missing .meta stops the run with a DataError naming the file', async () => {
    const e = await checkedBinSources(dirtyFiles).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(isDataError(e)).toBe(true);
    expect((e as Error).message).toMatch(/002\.bin: missing .*002\.bin\.meta/);
  });

  it('weft process --format internlm --pack --on-error skip counts the bad lines (was: ignored, the run failed)', () => {
    const out = join(work, 'proc');
    const summary = JSON.parse(
      execFileSync(
        process.execPath,
        [
          WEFT,
          'process',
          dirty,
          '--format',
          'internlm',
          '--pack',
          '--packed-length',
          '16',
          '--on-error',
          'skip',
          '--quiet',
          '--out',
          out,
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    ) as Record<string, unknown>;
    expect(summary).toMatchObject({
      files: 3,
      read: FILES[0]!.length + FILES[1]!.length + 1,
      kept: FILES[0]!.length + FILES[1]!.length - 1,
      skipped: { schema: 1, 'missing-meta': 1 },
    });
    const want = FILES.flat()
      .filter((_, i) => i !== BAD_LINE)
      .reduce((a, l) => a + l.length, 0);
    expect(summary.tokens).toBe(want);
  });

  const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
  it(`seeded fuzz (FUZZ_SEED=${SEED}): whatever the damage, skip mode packs without error and lines = kept + skipped`, async () => {
    const r = seededRandom(SEED);
    const dir = join(work, 'fuzz');
    const [good] = writeBinFolderWithNumpy(dir, [lines(3, 30)]);
    const bin = readFileSync(good!),
      meta = readFileSync(`${good}.meta`);
    for (let c = 0; c < 120; c++) {
      const path = join(dir, `case-${c}.bin`);
      const onMeta = r() < 0.4;
      const m = mutateBytes(onMeta ? meta : bin, r);
      writeFileSync(path, onMeta ? bin : m.bytes);
      writeFileSync(`${path}.meta`, onMeta ? m.bytes : meta);
      const label = `seed ${SEED} case ${c} (${onMeta ? '.meta' : '.bin'}: ${m.name})`;
      const checked = await checkedBinSources([path], { onError: 'skip' });
      expect(checked.kept + Object.values(checked.skipped).reduce((a, b) => a + b, 0), label).toBe(checked.lines);
      const ds = PackedDataset.fromBinSources(checked.sources, { packedLength: 8, seed: 1 });
      const packs = await collect(ds.packs()).catch((e: unknown) =>
        expect.fail(`${label}: packing failed: ${(e as Error).message}`),
      );
      expect(packs.length, label).toBe(ds.length);
    }
  });
});
