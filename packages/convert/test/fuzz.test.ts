import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDataError, seededRandom } from '@weft/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { findStateDict } from '../src/state-dict.ts';
import { readSafetensorsHeader } from '../src/safetensors-read.ts';
import { readTorchFile, TorchTensor } from '../src/pth.ts';
import { unpickle } from '../src/pickle.ts';
import { writeSafetensors } from '../src/safetensors-write.ts';
import { ZipArchive } from '../src/zip.ts';
import { tensorFromBytes } from '../src/tensor.ts';
import { fixtures, tmp } from './helpers.ts';

/** One random corruption: flip, overwrite, insert, delete, truncate, duplicate, or a run of 0xff (huge lengths). */
function mutate(src: Uint8Array, r: () => number, lo = 0, hi = src.length): Uint8Array {
  const b = Buffer.from(src);
  const at = lo + Math.floor(r() * (hi - lo));
  switch (Math.floor(r() * 7)) {
    case 0:
      b[at] = b[at]! ^ (1 << Math.floor(r() * 8));
      return b;
    case 1:
      b[at] = Math.floor(r() * 256);
      return b;
    case 2:
      return Buffer.concat([b.subarray(0, at), Buffer.from([Math.floor(r() * 256)]), b.subarray(at)]);
    case 3:
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + Math.floor(r() * 8))]);
    case 4:
      return b.subarray(0, at);
    case 5: {
      const n = Math.floor(r() * 16);
      return Buffer.concat([b.subarray(0, at + n), b.subarray(at)]);
    }
    default:
      b.fill(0xff, at, Math.min(at + 1 + Math.floor(r() * 8), hi));
      return b;
  }
}

function expectOnlyDataErrors(fn: () => unknown, label: string): 'ok' | 'error' {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (!isDataError(e)) throw new Error(`${label}: ${(e as Error)?.stack ?? String(e)}`);
    return 'error';
  }
}

let fx: string;
beforeAll(() => {
  fx = fixtures();
});

describe('fuzz (deterministic seeded mutations, bounded time): only DataError, never a crash', () => {
  it('pickle VM: 1000 mutations of torch and hostile pickles', () => {
    const zip = ZipArchive.open(join(fx, 'objects.pth'));
    const seeds = [
      zip.read(zip.entries.get('objects/data.pkl')!),
      ...[0, 2, 4, 5].map((p) => readFileSync(join(fx, `evil_p${p}.pkl`))),
    ];
    const r = seededRandom(1234);
    const outcomes = { ok: 0, error: 0 };
    for (let i = 0; i < 1000; i++) {
      let b: Uint8Array = seeds[i % seeds.length]!;
      for (let k = 1 + Math.floor(r() * 3); k > 0; k--) b = mutate(b, r);
      outcomes[
        expectOnlyDataErrors(() => unpickle(b, { file: `mut${i}.pkl`, persistentLoad: () => ({}) }), `pickle #${i}`)
      ]++;
    }
    expect(outcomes.error).toBeGreaterThan(100);
  });

  it('torch.save files: 500 mutations inside data.pkl, then every tensor read', () => {
    const src = join(fx, 'llama_bf16.pth');
    const bytes = readFileSync(src);
    const zip = ZipArchive.open(src);
    const pkl = zip.entries.get('llama_bf16/data.pkl')!;
    const lo = zip.dataOffset(pkl),
      hi = lo + pkl.size;
    const dir = tmp();
    const r = seededRandom(99);
    const outcomes = { ok: 0, error: 0 };
    for (let i = 0; i < 500; i++) {
      // mutate in place (same length) so the zip stays readable and the pickle is what breaks
      const b = Buffer.from(bytes);
      for (let k = 1 + Math.floor(r() * 3); k > 0; k--) {
        const at = lo + Math.floor(r() * (hi - lo));
        b[at] = r() < 0.5 ? b[at]! ^ (1 << Math.floor(r() * 8)) : Math.floor(r() * 256);
      }
      const f = join(dir, `m${i % 4}.pth`);
      writeFileSync(f, b);
      outcomes[
        expectOnlyDataErrors(() => {
          const sd = findStateDict(readTorchFile(f).value);
          for (const [, t] of sd?.tensors ?? []) if (t instanceof TorchTensor) t.read();
        }, `pth #${i}`)
      ]++;
    }
    expect(outcomes.error).toBeGreaterThan(50);
    expect(outcomes.ok).toBeGreaterThan(50);
  });

  it('safetensors: 500 mutations of the header and length', async () => {
    const dir = tmp();
    await writeSafetensors(dir, [
      tensorFromBytes('model.embed_tokens.weight', 'F32', [4, 3], new Uint8Array(48)),
      tensorFromBytes('model.norm.weight', 'BF16', [3], new Uint8Array(6)),
      tensorFromBytes('ids', 'I64', [2], new Uint8Array(16)),
    ]);
    const bytes = readFileSync(join(dir, 'model.safetensors'));
    const headerEnd = 8 + Number(bytes.readBigUInt64LE(0));
    const r = seededRandom(7);
    const outcomes = { ok: 0, error: 0 };
    for (let i = 0; i < 500; i++) {
      let b: Uint8Array = bytes;
      for (let k = 1 + Math.floor(r() * 2); k > 0; k--) b = mutate(b, r, 0, Math.min(b.length, headerEnd));
      const f = join(dir, `m${i % 4}.safetensors`);
      writeFileSync(f, b);
      outcomes[expectOnlyDataErrors(() => readSafetensorsHeader(f), `safetensors #${i}`)]++;
    }
    expect(outcomes.error).toBeGreaterThan(200);
  });
});
