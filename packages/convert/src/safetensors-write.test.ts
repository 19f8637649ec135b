import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSize } from './size.ts';
import { safetensorsHeader, writeSafetensors } from './safetensors-write.ts';
import { tensorFromBytes } from './tensor.ts';
import { castBytes } from './cast.ts';
import { readSafetensors, readSafetensorsHeader } from './safetensors-read.ts';
import { tmp } from '../test/helpers.ts';

describe('writeSafetensors', () => {
  it('reads shard sizes as transformers does', () => {
    expect(parseSize('2GB')).toBe(2e9);
    expect(parseSize('500MB')).toBe(5e8);
    expect(parseSize('4GiB')).toBe(4 * 2 ** 30);
    expect(parseSize(1234)).toBe(1234);
    expect(() => parseSize('2 gigs')).toThrow(/use a number of bytes/);
  });

  it('header: __metadata__ first, space padding to 8 bytes, tensors laid out by dtype then name', () => {
    const h = safetensorsHeader([{ name: 'x', dtype: 'F32', shape: [1] }], { format: 'pt' });
    const n = Number(h.readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0);
    expect(h.toString('utf8', 8)).toBe(
      '{"__metadata__":{"format":"pt"},"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'.padEnd(n, ' '),
    );
  });

  it('plans shards like save_pretrained: fill in order, a tensor over the limit alone, index sorted', async () => {
    const dir = tmp();
    const t = (name: string, n: number) => tensorFromBytes(name, 'U8', [n], new Uint8Array(n).fill(n));
    const r = await writeSafetensors(dir, [t('a', 40), t('b', 50), t('big', 300), t('c', 10), t('d', 95)], {
      maxShardSize: 100,
    });
    expect(readdirSync(dir).sort()).toEqual([
      'model-00001-of-00004.safetensors',
      'model-00002-of-00004.safetensors',
      'model-00003-of-00004.safetensors',
      'model-00004-of-00004.safetensors',
      'model.safetensors.index.json',
    ]);
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(index).toEqual({
      metadata: { total_size: 495 },
      weight_map: {
        a: 'model-00001-of-00004.safetensors',
        b: 'model-00001-of-00004.safetensors',
        big: 'model-00002-of-00004.safetensors',
        c: 'model-00003-of-00004.safetensors',
        d: 'model-00004-of-00004.safetensors',
      },
    });
    expect(r.totalSize).toBe(495);
  });

  it('casts while streaming: tiny chunks give the same bytes as casting whole tensors', async () => {
    const src = tmp();
    const f32 = new Float32Array(1001).map((_, i) => Math.sin(i) * 1e3 + (i % 7 === 0 ? 1 / 3 : 0));
    await writeSafetensors(src, [tensorFromBytes('w', 'F32', [7, 143], new Uint8Array(f32.buffer))]);
    for (const to of ['BF16', 'F16', 'F64'] as const) {
      const out = tmp();
      await writeSafetensors(out, readSafetensors(src), { dtype: to, chunkBytes: 24 });
      const [t] = readSafetensorsHeader(join(out, 'model.safetensors')).tensors;
      expect(t!.dtype).toBe(to);
      expect(Buffer.from(await t!.read())).toEqual(Buffer.from(castBytes(new Uint8Array(f32.buffer), 'F32', to)));
    }
  });

  it('refuses duplicate names', async () => {
    const t = tensorFromBytes('a', 'U8', [1], new Uint8Array(1));
    await expect(writeSafetensors(tmp(), [t, t])).rejects.toThrow(/appears twice/);
  });

  it('never replaces weights it did not write unless asked (replace: true removes stale shards)', async () => {
    const dir = tmp();
    const t = (name: string, n: number) => tensorFromBytes(name, 'U8', [n], new Uint8Array(n).fill(n));
    await writeSafetensors(dir, [t('a', 40), t('b', 50), t('c', 60)], { maxShardSize: 60 });
    const before = readdirSync(dir)
      .sort()
      .map((f) => [f, readFileSync(join(dir, f)).toString('hex')]);
    await expect(writeSafetensors(dir, [t('x', 4)])).rejects.toThrow(
      /already holds model-00001-of-00003\.safetensors.*replace: true/,
    );
    expect(
      readdirSync(dir)
        .sort()
        .map((f) => [f, readFileSync(join(dir, f)).toString('hex')]),
    ).toEqual(before);
    await writeSafetensors(dir, [t('x', 4)], { replace: true });
    expect(readdirSync(dir).sort()).toEqual(['model.safetensors']);
  });
});
