import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IGNORE_INDEX } from '@weft/core';
import { openDataset } from '@weft/trainer';

const DATA = new URL('../../../data/sample/', import.meta.url).pathname;

describe('datasets', () => {
  it('untokenized chat data is tokenized once into a cache and packed with loss masks', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'weft-tok-'));
    const spec = { kind: 'untokenized', path: join(DATA, 'openai'), format: 'openai', template: 'internlm2_chat', tokenizer: 'default' } as const;
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
});
