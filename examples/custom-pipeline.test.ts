import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pack } from '@weft/core';
import { customPipeline } from './custom-pipeline.ts';
import { tempDir } from '../tools/test/temp-dir.ts';

const here = fileURLToPath(new URL('.', import.meta.url));

/** The packs the Python + numpy reference computes for the same folder. */
function reference(dir: string, packedLength: number, minLength = 0): Record<string, number[]>[] {
  const out = execFileSync('python3', [join(here, 'reference_pack.py'), dir, String(packedLength), String(minLength)], {
    maxBuffer: 1 << 28,
  });
  return JSON.parse(out.toString()) as Record<string, number[]>[];
}

const plain = (packs: Pack[]) =>
  packs.map((p) => ({
    input_ids: [...p.input_ids],
    labels: [...p.labels],
    position_ids: [...p.position_ids],
    cumulative_len: [...p.cumulative_len],
  }));

/**
 * Write an InternLM tokenized folder the way InternLM's tools/tokenizer.py does (json.dumps lines,
 * np.save'd int32 meta), with nested folders, loss-masked (negative) tokens, token 0, lines with no
 * loss token and lines of every length.
 */
function makeBinFolder(dir: string): void {
  const script = `
import json, os, sys, numpy as np
rng = np.random.RandomState(7)
root = sys.argv[1]
for rel, n in [('en/b.bin', 9), ('en/a.bin', 7), ('cn/z/x.bin', 5), ('top.bin', 4)]:
    path = os.path.join(root, rel); os.makedirs(os.path.dirname(path), exist_ok=True)
    meta, off = [], 0
    with open(path, 'wb') as f:
        for i in range(n):
            k = int(rng.randint(1, 60))
            toks = [int(t) for t in rng.randint(1, 5000, size=k)]
            if i % 3 == 1: toks[: k // 2] = [-t for t in toks[: k // 2]]
            if i == 2: toks = [-t for t in toks]
            if i % 4 == 0: toks[0] = 0  # token 0: stored unsigned, never trained
            if i == 3: toks = [0] * k  # only token 0: no loss token, dropped
            line = (json.dumps({'tokens': toks}) + '\\n').encode()
            meta.append((off, len(toks))); f.write(line); off += len(line)
    np.save(path + '.meta', np.array(meta, dtype=np.int32)); os.rename(path + '.meta.npy', path + '.meta')
`;
  execFileSync('python3', ['-c', script, dir]);
}

describe('examples/custom-pipeline.ts', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('weft-example-');
    mkdirSync(dir, { recursive: true });
    makeBinFolder(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    [64, 0],
    [100, 10],
    [17, 30],
  ])('packs (packedLength %i, minLength %i) exactly as the Python reference', async (L, minLength) => {
    const { packs, stats } = await customPipeline({ dataDir: dir, packedLength: L, minLength });
    const expected = reference(dir, L, minLength);
    expect(packs.length).toBeGreaterThan(1);
    expect(plain(packs)).toEqual(expected);
    // Nothing silently lost: every line is either read or counted as short, every sample kept or counted.
    const [read, noLoss] = stats;
    expect(read.seen).toBe(25);
    expect(read.emitted + (read.rejected.short ?? 0)).toBe(read.seen);
    expect(noLoss.seen).toBe(read.emitted);
    expect(noLoss.emitted + (noLoss.rejected['no-trainable-token'] ?? 0)).toBe(noLoss.seen);
    expect(noLoss.rejected['no-trainable-token']).toBeGreaterThan(0);
  });

  it('matches the reference on the shipped tokenized sample', async () => {
    const sample = join(here, '../data/sample/tokenized');
    const { packs } = await customPipeline({ dataDir: sample, packedLength: 512, minLength: 8 });
    expect(packs.length).toBeGreaterThan(10);
    expect(plain(packs)).toEqual(reference(sample, 512, 8));
  });

  it('runs as a script and prints its summary', () => {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', join(here, 'custom-pipeline.ts'), dir, '--packed-length', '64'],
      { cwd: here },
    );
    const summary = JSON.parse(out.toString()) as { packs: number; tokens: number };
    expect(summary.packs).toBe(reference(dir, 64).length);
    expect(summary.tokens).toBe(summary.packs * 64);
  });
});
