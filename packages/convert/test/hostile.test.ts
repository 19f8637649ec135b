import { existsSync, readFileSync, writeFileSync, copyFileSync, truncateSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { isDataError } from '@weft/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../src/checkpoint.ts';
import { PyObject, unpickle } from '../src/pickle.ts';
import { readSafetensorsHeader } from '../src/safetensors-read.ts';
import { readTorchFile } from '../src/pth.ts';
import { fixtures, tmp, TORCH_PYTHON } from './helpers.ts';

let fx: string;
beforeAll(() => {
  fx = fixtures();
});

function dataError(fn: () => unknown): { message: string; reason: string } {
  try {
    fn();
  } catch (e) {
    if (!isDataError(e)) throw e;
    return { message: e.message, reason: e.reason };
  }
  throw new Error('expected a DataError');
}

describe('hostile pickles execute nothing', () => {
  it('a data.pkl calling os.system becomes an inert placeholder; the marker file is never created', () => {
    const e = dataError(() => openCheckpoint(join(fx, 'evil.pth')));
    expect(e.message).toMatch(/w: <posix\.system object, not executed>/);
    expect(existsSync(join(fx, 'PWNED'))).toBe(false);
  });

  it('the same pickle in protocols 0-5: placeholder for us, while Python pickle.loads really runs it', () => {
    for (let p = 0; p <= 5; p++) {
      const bytes = readFileSync(join(fx, `evil_p${p}.pkl`));
      const v = unpickle(bytes, { file: `evil_p${p}.pkl` }) as Map<string, unknown>;
      const x = v.get('x');
      expect(x).toBeInstanceOf(PyObject);
      expect((x as PyObject).qualname).toBe('posix.system');
      expect(v.get('y')).toEqual([1, 2.5, 's', new Uint8Array([0x62]), null, true, 2n ** 80n, [1]]);
    }
    expect(existsSync(join(fx, 'PWNED'))).toBe(false);
    // proof the fixture is hostile: CPython's own unpickler runs os.system
    const r = spawnSync(TORCH_PYTHON, [
      '-c',
      `import pickle,sys; pickle.loads(open(sys.argv[1],'rb').read())`,
      join(fx, 'evil_p2.pkl'),
    ]);
    expect(r.status).toBe(0);
    expect(existsSync(join(fx, 'PWNED'))).toBe(true);
  });

  it('arbitrary Python objects beside tensors (Namespace, numpy scalars, sets, bytes, big ints, devices)', () => {
    const v = readTorchFile(join(fx, 'objects.pth')).value as Map<string, unknown>;
    expect((v.get('ns') as PyObject).qualname).toBe('argparse.Namespace');
    expect((v.get('hub') as PyObject).qualname).toBe('__main__.MessageHub');
    expect((v.get('np') as PyObject).qualname).toBe('numpy.core.multiarray.scalar');
    expect(v.get('set')).toEqual(new Set([1, 2]));
    expect(v.get('bytes')).toEqual(new Uint8Array([0, 255]));
    expect(v.get('big')).toBe(2n ** 70n);
    expect(v.get('device')).toEqual({ device: 'cpu' });
    expect(v.get('size')).toEqual([2, 3]);
    const c = openCheckpoint(join(fx, 'objects.pth'));
    expect(c.tensors.map((t) => `${t.name}:${t.dtype}:${t.shape.join('x')}`)).toEqual([
      'weight:F32:2x3',
      'ids:I64:3',
      'mask:BOOL:2',
    ]);
    expect(c.skipped).toContain('hub');
  });
});

describe('hostile and broken containers', () => {
  it('truncated zip: clear error, at several cut points', () => {
    const src = join(fx, 'llama_fp32.pth');
    const size = statSync(src).size;
    for (const cut of [10, 1000, Math.floor(size / 2), size - 30, size - 1]) {
      const f = join(tmp(), 'cut.pth');
      copyFileSync(src, f);
      truncateSync(f, cut);
      const e = dataError(() => openCheckpoint(f));
      expect(e.message).toMatch(/truncated|past the end|end-of-central-directory|ends/);
    }
  });

  it('zip entry names with .. are refused', () => {
    const e = dataError(() => openCheckpoint(join(fx, 'dotdot.pth')));
    expect(e.reason).toBe('unsafe-name');
    expect(e.message).toContain('archive/../evil');
  });

  it('compressed tensor data is refused with advice', () => {
    const e = dataError(() => openCheckpoint(join(fx, 'deflated.pth')));
    expect(e.reason).toBe('compressed');
    expect(e.message).toMatch(/compressed .*re-save/);
  });

  it('legacy non-zip torch.save is recognised and named', () => {
    const e = dataError(() => openCheckpoint(join(fx, 'legacy.pth')));
    expect(e.reason).toBe('legacy-format');
    expect(e.message).toMatch(/legacy .*PyTorch ≥ 1\.6/);
  });
});

function safetensorsFile(header: string | null, data: Uint8Array, len?: bigint): string {
  const json = header === null ? Buffer.alloc(0) : Buffer.from(header);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(len ?? BigInt(json.length));
  const f = join(tmp(), 'x.safetensors');
  writeFileSync(f, Buffer.concat([head, json, data]));
  return f;
}

describe('hostile safetensors headers', () => {
  const t = (name: string, offs: [number, number], shape = [2], dtype = 'F32') =>
    `"${name}":{"dtype":"${dtype}","shape":${JSON.stringify(shape)},"data_offsets":${JSON.stringify(offs)}}`;
  const cases: [string, string | null, number, bigint | undefined, RegExp][] = [
    ['header length 2^63', null, 0, 2n ** 63n, /exceeds the 100 MB limit/],
    ['header length past the end', '{}', 0, 1000n, /past the end/],
    ['offsets past the end', `{${t('a', [0, 8])},${t('b', [8, 16])}}`, 8, undefined, /"b".*past the end/],
    ['overlapping tensors', `{${t('a', [0, 8])},${t('b', [4, 12])}}`, 12, undefined, /overlap/],
    ['a hole', `{${t('a', [0, 8])},${t('b', [12, 20])}}`, 20, undefined, /hole/],
    ['duplicate names', `{${t('a', [0, 8])},${t('a', [8, 16])}}`, 16, undefined, /duplicate/],
    ['dtype/size mismatch', `{${t('a', [0, 6])}}`, 6, undefined, /needs 8/],
    ['bad JSON', '{"a": ', 0, undefined, /not valid JSON/],
    ['unknown dtype', `{${t('a', [0, 8], [2], 'F33')}}`, 8, undefined, /unknown dtype/],
    ['trailing bytes', `{${t('a', [0, 8])}}`, 16, undefined, /cover 8/],
  ];
  for (const [what, header, n, len, re] of cases) {
    it(what, () => {
      const f = safetensorsFile(header, new Uint8Array(n), len);
      const e = dataError(() => readSafetensorsHeader(f));
      expect(e.message).toMatch(re);
      expect(e.message).toContain(f);
    });
  }
});
