import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors, readSafetensorsHeader } from './safetensors-read.ts';
import { py, tmp } from '../test/helpers.ts';

describe('readSafetensors on a file written by an independent Python writer', () => {
  it("names, dtypes, shapes and bytes equal torch's, in any order, with unaligned offsets and an empty tensor", async () => {
    const f = join(tmp(), 'py.safetensors');
    const r = py('write_safetensors.py', [f]);
    expect(r.status, r.stderr).toBe(0);
    const want = JSON.parse(r.stdout) as Record<string, { dtype: string; shape: number[]; hex: string }>;
    const got: Record<string, { dtype: string; shape: number[]; hex: string }> = {};
    for await (const t of readSafetensors(f)) {
      got[t.name] = { dtype: t.dtype, shape: t.shape, hex: Buffer.from(await t.read()).toString('hex') };
      const chunks: Buffer[] = [];
      for await (const c of t.stream!(3)) chunks.push(Buffer.from(c)); // copy: the stream reuses its buffers
      expect(Buffer.concat(chunks).toString('hex')).toBe(got[t.name]!.hex);
    }
    expect(got).toEqual(want);
    expect(readSafetensorsHeader(f).metadata).toBeUndefined();
  });
});
