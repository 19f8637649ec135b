import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BinFile } from '@weft/order';
import { PackedDataset } from '../src/packed-dataset.ts';
import { BinSource } from '../src/bin-source.ts';
import { defaultCacheDir } from '../src/token-cache.ts';
import { checkedBinSources } from '../src/checked-bin-sources.ts';
import type { Pack } from '@weft/core';
import { packingCases } from './golden.ts';
import { writeBinFolderWithNumpy } from './write-bin.ts';

const temps: string[] = [];
const temp = (p: string): string => {
  const d = mkdtempSync(join(tmpdir(), p));
  temps.push(d);
  return d;
};
afterAll(() => {
  for (const d of temps) {
    try {
      chmodSync(d, 0o755);
    } catch {
      /* gone */
    }
    rmSync(d, { recursive: true, force: true });
  }
});

async function allPacks(ds: PackedDataset, workers = 0): Promise<Pack[]> {
  const out: Pack[] = [];
  for await (const p of ds.packs(0, 4, workers)) out.push(p);
  await ds.close();
  return out;
}

const cacheFiles = (cache: string): string[] => readdirSync(join(cache, 'bin-tokens')).sort();

describe('binary token sidecar of .bin files', () => {
  it('gives golden/packing.json byte for byte, the same packs as the JSON path, built once and reused', async () => {
    for (const [ci, c] of packingCases.entries()) {
      const dir = temp(`weft-tokcache-${ci}-`);
      const input = join(dir, 'in'),
        cache = join(dir, 'cache');
      writeBinFolderWithNumpy(input, c.files);
      const opts = { packedLength: c.packed_length, seed: c.seed, minLength: c.min_length };
      const json = await allPacks(await PackedDataset.fromBinFolder(input, opts));
      const ds = await PackedDataset.fromBinFolder(input, { ...opts, cacheDir: cache });
      expect(
        ds.files.every((f) => f.source.fillRange !== undefined),
        'every file read from its sidecar',
      ).toBe(true);
      const cached = await allPacks(ds);
      expect(cached.length).toBe(c.packs.length);
      cached.forEach((p, i) => {
        const g = c.packs[i]!;
        expect(Array.from(p.input_ids), `case ${ci} pack ${i} input_ids`).toEqual(g.input_ids);
        expect(Array.from(p.labels), `case ${ci} pack ${i} labels`).toEqual(g.labels);
        expect(Array.from(p.cumulative_len), `case ${ci} pack ${i} cumulative_len`).toEqual(g.cumulative_len);
        expect(Array.from(p.position_ids), `case ${ci} pack ${i} position_ids`).toEqual(g.position_ids);
        for (const k of ['input_ids', 'labels', 'cumulative_len', 'position_ids'] as const)
          expect(Buffer.from(p[k].buffer).equals(Buffer.from(json[i]![k].buffer))).toBe(true);
      });
      // Nothing is written beside the input.
      expect(readdirSync(input).filter((f) => !/\.bin(\.meta)?$/.test(f))).toEqual([]);
      // Second run: the sidecars are found, not rebuilt (the files are untouched) and the .bin JSON is never parsed.
      const before = cacheFiles(cache).map((f) => [f, statSync(join(cache, 'bin-tokens', f)).mtimeMs]);
      const parse = vi.spyOn(BinFile.prototype, 'read');
      const again = await allPacks(
        await PackedDataset.fromBinFolder(input, { ...opts, cacheDir: cache }),
        ci === 1 ? 2 : 0,
      );
      expect(parse).not.toHaveBeenCalled();
      parse.mockRestore();
      expect(cacheFiles(cache).map((f) => [f, statSync(join(cache, 'bin-tokens', f)).mtimeMs])).toEqual(before);
      again.forEach((p, i) =>
        expect(Array.from(p.input_ids), `case ${ci} rerun pack ${i}`).toEqual(c.packs[i]!.input_ids),
      );
    }
  });

  it('is rebuilt when the .bin or its .meta changes, keeping one version per file', async () => {
    const dir = temp('weft-tokcache-inval-');
    const input = join(dir, 'in'),
      cache = join(dir, 'cache');
    const [bin] = writeBinFolderWithNumpy(input, [
      [
        [1, 2, 3],
        [-4, 5],
        [6, 7, 8, 9],
      ],
    ]);
    const first = (await BinSource.open(bin!, 0, { cacheDir: cache })).cachePath;
    expect(cacheFiles(cache)).toHaveLength(1);
    // Same content, new mtime: a new key (the old sidecar is removed).
    const t = new Date(Date.now() + 5000);
    utimesSync(bin!, t, t);
    const second = (await BinSource.open(bin!, 0, { cacheDir: cache })).cachePath;
    expect(second).not.toBe(first);
    expect(cacheFiles(cache)).toEqual([second!.split('/').pop()]);
    // New content with a new .meta: the sidecar holds the new tokens.
    writeBinFolderWithNumpy(input, [
      [
        [10, -11, 0],
        [12, 13, 14],
      ],
    ]);
    // (read(0) rebuilds the signed tokens from the sidecar's input_ids and labels: -11 stays -11, 0 stays 0.)
    const src = await BinSource.open(bin!, 0, { cacheDir: cache });
    expect(src.cachePath).not.toBe(second);
    expect(Array.from(await src.read(0))).toEqual([10, -11, 0]);
    const into = {
      input_ids: new Int32Array(4),
      labels: new Int32Array(4),
      cumulative_len: new Int32Array(1),
      position_ids: new Int32Array(4),
    };
    src.fillRange!(1, 1, 3, into, 1);
    expect([Array.from(into.input_ids), Array.from(into.labels)]).toEqual([
      [0, 13, 14, 0],
      [0, 13, 14, 0],
    ]);
    expect(Array.from(await src.read(0))).toEqual([10, -11, 0]);
    await src.close();
    expect(cacheFiles(cache)).toHaveLength(1);
  });

  it('leaves a .bin that does not parse to the JSON path, which reports the same error at the same line', async () => {
    const dir = temp('weft-tokcache-bad-');
    const input = join(dir, 'in'),
      cache = join(dir, 'cache');
    const [bin] = writeBinFolderWithNumpy(input, [
      [
        [1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
      ],
    ]);
    const text = readFileSync(bin!, 'utf8').replace('[4, 5, 6]', '[4, 5, x]');
    writeFileSync(bin!, text);
    const errorOf = async (cacheDir?: string): Promise<string> => {
      const ds = await PackedDataset.fromBinFolder(input, {
        packedLength: 2,
        seed: 1,
        ...(cacheDir ? { cacheDir } : {}),
      });
      return allPacks(ds).then(
        () => 'no error',
        (e: Error) => e.message,
      );
    };
    const plain = await errorOf();
    expect(plain).toMatch(/line 2/);
    expect(await errorOf(cache)).toBe(plain);
    expect(readdirSync(join(cache, 'bin-tokens'))).toEqual([]);
  });

  it('with --on-error skip: a clean file gets its sidecar, a file with a bad line is read as JSON; the packs are those without a cache', async () => {
    const dir = temp('weft-tokcache-skip-');
    const [good, bad] = writeBinFolderWithNumpy(join(dir, 'in'), [
      [
        [1, 2, 3],
        [4, -5],
        [6, 7],
      ],
      [
        [8, 9],
        [10, 11, 12],
        [13, -14],
      ],
    ]);
    writeFileSync(bad!, readFileSync(bad!, 'utf8').replace('[10, 11, 12]', '[10, 11, x2]'));
    const packsOf = async (
      cacheDir?: string,
    ): Promise<{ fill: boolean[]; packs: number[][]; skipped: Record<string, number> }> => {
      const c = await checkedBinSources([good!, bad!], { onError: 'skip', ...(cacheDir ? { cacheDir } : {}) });
      const packs = await allPacks(PackedDataset.fromBinSources(c.sources, { packedLength: 3, seed: 5 }));
      return {
        fill: c.sources.map((s) => s.fillRange !== undefined),
        packs: packs.map((p) => [...p.input_ids, ...p.labels, ...p.cumulative_len]),
        skipped: c.skipped,
      };
    };
    const plain = await packsOf();
    const cached = await packsOf(join(dir, 'cache'));
    expect(cached.fill).toEqual([true, false]);
    expect(cached.packs).toEqual(plain.packs);
    expect(cached.skipped).toEqual(plain.skipped);
    expect(Object.values(plain.skipped).reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('writes nothing into a read-only input folder; the cache lives in the cache folder', async () => {
    const dir = temp('weft-tokcache-ro-');
    const input = join(dir, 'in'),
      cache = join(dir, 'cache');
    writeBinFolderWithNumpy(input, [[[1, 2, 3], [4, 5], [6]]]);
    chmodSync(input, 0o555);
    const packs = await allPacks(
      await PackedDataset.fromBinFolder(input, { packedLength: 2, seed: 7, cacheDir: cache }),
    );
    expect(packs.length).toBe(3);
    expect(readdirSync(input).sort()).toEqual(['000.bin', '000.bin.meta']);
    expect(cacheFiles(cache)).toHaveLength(1);
  });

  it('falls back to the JSON path, with a warning, when the cache folder cannot be written', async () => {
    const dir = temp('weft-tokcache-unusable-');
    writeBinFolderWithNumpy(join(dir, 'in'), [[[1, 2, 3], [4, -5], [6]]]);
    writeFileSync(join(dir, 'file'), '');
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const ds = await PackedDataset.fromBinFolder(join(dir, 'in'), {
      packedLength: 2,
      seed: 7,
      cacheDir: join(dir, 'file', 'cache'),
    });
    expect(ds.files[0]!.source.fillRange).toBeUndefined();
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/not usable \(ENOTDIR\).*--cache-dir/);
    warn.mockRestore();
    const plain = await allPacks(await PackedDataset.fromBinFolder(join(dir, 'in'), { packedLength: 2, seed: 7 }));
    expect((await allPacks(ds)).map((p) => Array.from(p.labels))).toEqual(plain.map((p) => Array.from(p.labels)));
  });

  it('defaults to $WEFT_CACHE_DIR, else $XDG_CACHE_HOME/weft (tests point it at a temp folder)', () => {
    const old = { w: process.env.WEFT_CACHE_DIR, x: process.env.XDG_CACHE_HOME };
    expect(old.w, 'the test config sets WEFT_CACHE_DIR').toMatch(/weft-test-cache-/);
    delete process.env.WEFT_CACHE_DIR;
    process.env.XDG_CACHE_HOME = '/x/cache';
    expect(defaultCacheDir()).toBe('/x/cache/weft');
    process.env.WEFT_CACHE_DIR = old.w;
    expect(defaultCacheDir()).toBe(old.w);
    if (old.x === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = old.x;
  });
});

describe('reading a .bin without a sidecar', () => {
  it('parses a long sample once, not once per pack it spans', async () => {
    const dir = temp('weft-tokcache-long-');
    const long = Array.from({ length: 5000 }, (_, i) => (i % 3 === 0 ? -1 : 1) * (i + 1));
    writeBinFolderWithNumpy(dir, [[[1, 2], long, [3, 4, 5]]]);
    const parse = vi.spyOn(BinFile.prototype, 'read');
    const ds = await PackedDataset.fromBinFolder(dir, { packedLength: 64, seed: 3 });
    const packs = await allPacks(ds);
    expect(packs.length).toBe(Math.floor(5005 / 64));
    // 78 packs, all but one or two made of the long sample alone: 3 lines, each parsed once.
    expect(parse.mock.calls.length).toBeLessThanOrEqual(3);
    parse.mockRestore();
  });
});
