import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { IGNORE_INDEX } from './records.ts';
import {
  decodeSignedInto,
  fromSignedTokens,
  signedToken,
  signedTokenId,
  signedTokenLabel,
  toSignedTokens,
} from './signed-tokens.ts';
import { seededRandom } from './random.ts';

/** xtuner's / tools/reference/pack_ref.py's decoding, run by numpy. */
function numpyDecode(tokens: number[]): { input_ids: number[]; labels: number[] } {
  const code =
    'import json, sys, numpy as np\nt = np.array(json.load(sys.stdin), dtype=np.int32)\n' +
    'print(json.dumps({"input_ids": np.abs(t).tolist(), "labels": np.where(t > 0, t, -100).tolist()}))';
  return JSON.parse(execFileSync('python3', ['-c', code], { input: JSON.stringify(tokens), encoding: 'utf8' }));
}

describe('signed-token codec', () => {
  const r = seededRandom(7);
  const tokens = [
    0,
    1,
    -1,
    2 ** 31 - 1,
    -(2 ** 31 - 1),
    151643,
    -151643,
    0,
    ...Array.from({ length: 200 }, () => Math.floor((r() - 0.5) * 300000)),
  ];

  it("decodes as numpy does with xtuner's rule (abs, label only where t > 0)", () => {
    const want = numpyDecode(tokens);
    const got = fromSignedTokens(tokens);
    expect(Array.from(got.input_ids)).toEqual(want.input_ids);
    expect(Array.from(got.labels)).toEqual(want.labels);
    expect(tokens.map(signedTokenId)).toEqual(want.input_ids);
    expect(tokens.map(signedTokenLabel)).toEqual(want.labels);
  });

  it('token 0 never has a loss, stored either way', () => {
    expect(fromSignedTokens([0])).toEqual({ input_ids: Int32Array.of(0), labels: Int32Array.of(IGNORE_INDEX) });
    // A trained token 0 encodes to 0, which decodes untrained: there is no -0 in a .bin.
    const trainedZero = toSignedTokens([0, 5], [0, 5]);
    expect(Array.from(trainedZero)).toEqual([0, 5]);
    expect(Array.from(fromSignedTokens(trainedZero).labels)).toEqual([IGNORE_INDEX, 5]);
    expect(signedToken(0, 0)).toBe(0);
    expect(Object.is(signedToken(0, IGNORE_INDEX), -0)).toBe(true); // -0 in JS; an Int32Array stores 0
  });

  it('encodes and decodes back every sample without a trained token 0', () => {
    const { input_ids, labels } = fromSignedTokens(tokens);
    const signed = toSignedTokens(input_ids, labels);
    expect(Array.from(signed)).toEqual(tokens); // an untrained 0 is -0, stored as 0
    expect(Array.from(signed, (_t, i) => signedToken(input_ids[i]!, labels[i]!) | 0)).toEqual(Array.from(signed));
  });

  it('decodes into a buffer at an offset without touching the rest', () => {
    const ids = new Int32Array(6).fill(9),
      labels = new Int32Array(6).fill(9);
    decodeSignedInto([3, -4, 0], ids, labels, 2);
    expect(Array.from(ids)).toEqual([9, 9, 3, 4, 0, 9]);
    expect(Array.from(labels)).toEqual([9, 9, 3, IGNORE_INDEX, IGNORE_INDEX, 9]);
  });

  it('refuses input_ids and labels of different lengths', () => {
    expect(() => toSignedTokens([1, 2], [1])).toThrow('input_ids has 2 tokens but labels 1');
  });
});
