import { describe, expect, it } from 'vitest';
import { DataError } from '@weft/core';
import { encodeNpy, parseNpy } from './npy.ts';
import { python } from '../test/python.ts';

/** Bytes of np.save (or write_array with a version) for each numpy expression, in one python3 run. */
function npSaveAll(items: [expr: string, version?: string][]): Buffer[] {
  const script = `import base64, io, json, sys, numpy as np
out = []
for expr, version in json.loads(sys.argv[1]):
    a = eval(expr)
    b = io.BytesIO()
    if version: np.lib.format.write_array(b, a, version=eval(version))
    else: np.save(b, a)
    out.append(base64.b64encode(b.getvalue()).decode())
sys.stdout.write(json.dumps(out))`;
  const res = JSON.parse(python(script, [JSON.stringify(items.map(([e, v]) => [e, v ?? '']))]).toString()) as string[];
  return res.map((b) => Buffer.from(b, 'base64'));
}
function npSave(expr: string, version = ''): Buffer {
  return npSaveAll([[expr, version]])[0]!;
}

describe('encodeNpy', () => {
  const cases: [string, Int32Array | BigInt64Array, number[], string][] = [
    ['(3,2) int32', Int32Array.from([0, 5, 22, 7, 61, 3]), [3, 2], 'np.array([[0,5],[22,7],[61,3]], dtype=np.int32)'],
    ['(0,2) int32', new Int32Array(0), [0, 2], 'np.zeros((0,2), dtype=np.int32)'],
    ['(1,) int32', Int32Array.from([-1]), [1], 'np.array([-1], dtype=np.int32)'],
    [
      '(12345,2) int32',
      Int32Array.from({ length: 24690 }, (_, i) => i * 7 - 1000),
      [12345, 2],
      'np.arange(24690, dtype=np.int32).reshape(12345,2)*7-1000',
    ],
    [
      '(4,2) int64',
      BigInt64Array.from([0n, 1n, 3000000000n, 2n, 5n, 9n, -4n, 1n]),
      [4, 2],
      'np.array([[0,1],[3000000000,2],[5,9],[-4,1]], dtype=np.int64)',
    ],
    [
      '(10**6, 2) int32 shape digits',
      new Int32Array(2_000_000),
      [1_000_000, 2],
      'np.zeros((1000000,2), dtype=np.int32)',
    ],
  ];
  it('is byte-identical to np.save', () => {
    const saved = npSaveAll(cases.map((c) => [c[3]]));
    cases.forEach(([name, data, shape], k) => {
      const ours = Buffer.from(encodeNpy(data, shape)),
        theirs = saved[k]!;
      // Headers as text for a readable diff; the whole file by `equals` (toEqual is slow on MBs).
      expect(ours.subarray(0, 128).toString('latin1'), name).toBe(theirs.subarray(0, 128).toString('latin1'));
      expect(ours.length).toBe(theirs.length);
      expect(ours.equals(theirs), name).toBe(true);
    });
  });

  it('rejects a shape that does not match the data', () => {
    expect(() => encodeNpy(new Int32Array(5), [3, 2])).toThrow(RangeError);
  });
});

describe('parseNpy', () => {
  it('reads the dtypes numpy writes', () => {
    const dtypes = [
      ['<i4', Int32Array],
      ['<i8', BigInt64Array],
      ['<u4', Uint32Array],
      ['<u8', BigUint64Array],
      ['<i2', Int16Array],
      ['|u1', Uint8Array],
    ] as const;
    const saved = npSaveAll(dtypes.map(([dt]) => [`np.arange(6, dtype='${dt}').reshape(2,3)`]));
    for (const [k, [dt, ctor]] of dtypes.entries()) {
      const arr = parseNpy(saved[k]!, 'x.npy');
      expect(arr.dtype).toBe(dt);
      expect(arr.shape).toEqual([2, 3]);
      expect(arr.data).toBeInstanceOf(ctor);
      expect(Array.from(arr.data, Number)).toEqual([0, 1, 2, 3, 4, 5]);
    }
  });

  it('reads format versions 2.0 and 3.0', () => {
    for (const v of ['(2, 0)', '(3, 0)']) {
      const arr = parseNpy(npSave('np.array([[1,2],[3,4]], dtype=np.int32)', v), 'x.npy');
      expect(Array.from(arr.data as Int32Array)).toEqual([1, 2, 3, 4]);
    }
  });

  it('transposes Fortran-ordered data into row-major', () => {
    const arr = parseNpy(npSave('np.asfortranarray(np.arange(24, dtype=np.int32).reshape(2,3,4))'), 'f.npy');
    expect(arr.fortranOrder).toBe(true);
    expect(arr.shape).toEqual([2, 3, 4]);
    expect(Array.from(arr.data as Int32Array)).toEqual(Array.from({ length: 24 }, (_, i) => i));
  });

  it('round-trips encodeNpy', () => {
    const data = Int32Array.from([3, 1, 4, 1, 5, 9]);
    const arr = parseNpy(encodeNpy(data, [3, 2]), 'r.npy');
    expect(arr).toEqual({ dtype: '<i4', shape: [3, 2], fortranOrder: false, data });
  });

  it('names the file on bad input', () => {
    const good = npSave('np.arange(6, dtype=np.int32)');
    expect(() => parseNpy(Buffer.from('hello world'), 'bad.npy')).toThrow(/bad\.npy: byte 0: not a \.npy file/);
    expect(() => parseNpy(good.subarray(0, good.length - 3), 'cut.npy')).toThrow(
      /cut\.npy: byte 128: truncated \.npy data/,
    );
    const f4 = npSave("np.zeros(2, dtype='>i4')");
    expect(() => parseNpy(f4, 'be.npy')).toThrow(DataError);
    const obj = npSave("np.zeros(2, dtype=[('a','<i4')])");
    expect(() => parseNpy(obj, 'rec.npy')).toThrow(/rec\.npy: byte 10: .*descr/);
  });
});
