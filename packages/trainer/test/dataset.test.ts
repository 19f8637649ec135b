import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IGNORE_INDEX } from '@weft/core';
import { openDataset } from '../src/dataset.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const DATA = new URL('../../../data/sample/', import.meta.url).pathname;

describe('datasets', () => {
  it('untokenized chat data is tokenized once into a cache and packed with loss masks', async () => {
    const cacheDir = tempDir('weft-tok-');
    const spec = {
      kind: 'untokenized',
      path: join(DATA, 'openai'),
      format: 'openai',
      template: 'internlm2_chat',
      tokenizer: 'default',
    } as const;
    const ds = await openDataset(spec, { packedLength: 256, seed: 1024, maxLength: 256, cacheDir });
    expect(ds.length).toBeGreaterThan(0);
    const p = await ds.get(0);
    expect(p.input_ids.length).toBe(256);
    expect(p.labels.some((l) => l === IGNORE_INDEX)).toBe(true); // prompts carry no loss
    expect(p.labels.some((l) => l > 0)).toBe(true); // replies do
    await ds.close?.();
    const [key] = readdirSync(cacheDir);
    expect(readdirSync(join(cacheDir, key!)).sort()).toEqual(['DONE', 'chat.jsonl.bin', 'chat.jsonl.bin.meta']);
    const again = await openDataset(spec, { packedLength: 256, seed: 1024, maxLength: 256, cacheDir });
    expect(Array.from((await again.get(0)).input_ids)).toEqual(Array.from(p.input_ids));
    await again.close?.();
  });

  it('the shipped tokenized sample opens as xtuner-packed data with document boundaries', async () => {
    const ds = await openDataset({ kind: 'internlm', path: join(DATA, 'tokenized') }, { packedLength: 64, seed: 1024 });
    expect(ds.length).toBeGreaterThan(100);
    const p = await ds.get(5);
    expect(p.cumulative_len[0]).toBe(0);
    expect(p.cumulative_len[p.cumulative_len.length - 1]).toBe(64);
    await ds.close?.();
  });

  it('a packed Arrow folder written by `weft pack` gives the same packs as packing the .bin folder here', async () => {
    const out = join(tempDir('weft-packed-'), 'packed');
    const cli = new URL('../../cli/bin/weft.mjs', import.meta.url).pathname;
    const r = spawnSync(
      process.execPath,
      [cli, 'pack', join(DATA, 'tokenized'), '--packed-length', '64', '--out', out, '--quiet'],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    const packed = await openDataset({ kind: 'packed', path: out }, { packedLength: 64, seed: 1024 });
    const direct = await openDataset(
      { kind: 'internlm', path: join(DATA, 'tokenized') },
      { packedLength: 64, seed: 1024 },
    );
    expect(packed.length).toBe(direct.length);
    for (const i of [0, 1, 17, packed.length - 1]) {
      const [a, b] = [await packed.get(i), await direct.get(i)];
      for (const k of ['input_ids', 'labels', 'cumulative_len', 'position_ids'] as const)
        expect(Array.from(a[k])).toEqual(Array.from(b[k]));
    }
    await expect(openDataset({ kind: 'packed', path: out }, { packedLength: 128, seed: 1024 })).rejects.toThrow(
      /packs hold 64 tokens but the config says packedLength: 128/,
    );
    await packed.close?.();
    await direct.close?.();
  });
});
