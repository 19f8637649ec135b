import { afterAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BinFile } from '@weft/order';
import { openDataset } from '../src/dataset.ts';

const DATA = new URL('../../../data/sample/tokenized', import.meta.url).pathname;
const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

describe('internlm datasets in the trainer read the binary token sidecar', () => {
  it('gives the same packs as parsing the .bin JSON, in shuffled random access across files, with no parse on the second open', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'weft-trainer-sidecar-'));
    temps.push(cache);
    const json = await openDataset(
      { kind: 'internlm', path: DATA },
      { packedLength: 64, seed: 1024, tokenCacheDir: false },
    );
    const side = await openDataset(
      { kind: 'internlm', path: DATA },
      { packedLength: 64, seed: 1024, tokenCacheDir: cache },
    );
    expect(readdirSync(join(cache, 'bin-tokens')).length).toBeGreaterThan(0);
    expect(side.length).toBe(json.length);
    // A sampler-like order: jumps between files, back and forth.
    const order = Array.from({ length: json.length }, (_, i) => (i * 7919) % json.length);
    for (const i of order) {
      const [a, b] = [await json.get(i), await side.get(i)];
      for (const k of ['input_ids', 'labels', 'cumulative_len', 'position_ids'] as const)
        expect(Array.from(b[k]), `pack ${i} ${k}`).toEqual(Array.from(a[k]));
    }
    await json.close?.();
    await side.close?.();
    const parse = vi.spyOn(BinFile.prototype, 'read');
    const again = await openDataset(
      { kind: 'internlm', path: DATA },
      { packedLength: 64, seed: 1024, tokenCacheDir: cache },
    );
    for (const i of order.slice(0, 50)) await again.get(i);
    expect(parse).not.toHaveBeenCalled();
    parse.mockRestore();
    await again.close?.();
  });
});
