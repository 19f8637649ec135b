import { describe, expect, it } from 'vitest';
import type { Pack } from '@weft/core';
import { encodeEndFrame, encodePackFrame } from '../src/frames.ts';
import { syntheticPacks } from '../src/dataset.ts';
import { runPython } from './helpers.ts';

const DECODE = `
import sys, json
from weft_worker.feed import read_frames
out = [{'input_ids': p.input_ids.tolist(), 'labels': p.labels.tolist(), 'cumulative_len': p.cumulative_len.tolist(),
        'position_ids': p.position_ids.tolist(), 'epoch': p.epoch, 'index': p.index} for p in read_frames(sys.stdin.buffer)]
print(json.dumps(out))
`;

describe('feed frames', () => {
  it('the Python worker reads back what the TypeScript feed writes', () => {
    const ds = syntheticPacks({ numPacks: 3, vocabSize: 151669, meanDocLength: 10, packedLength: 40, seed: 7 });
    const packs = [0, 1, 2].map((i) => ds.get(i) as Pack);
    const bytes = Buffer.concat([
      ...packs.map((p, i) => encodePackFrame(p, { epoch: 1, index: 10 + i })),
      encodeEndFrame(),
    ]);
    const got = JSON.parse(runPython(['-c', DECODE], bytes)) as Record<string, unknown>[];
    expect(got).toHaveLength(3);
    got.forEach((g, i) => {
      const p = packs[i]!;
      for (const k of ['input_ids', 'labels', 'cumulative_len', 'position_ids'] as const)
        expect(g[k]).toEqual(Array.from(p[k]));
      expect(g.epoch).toBe(1);
      expect(g.index).toBe(10 + i);
    });
  });

  it('a stream cut mid-frame is an error, not a short batch', () => {
    const ds = syntheticPacks({ numPacks: 1, vocabSize: 100, meanDocLength: 10, packedLength: 40 });
    const frame = encodePackFrame(ds.get(0) as Pack, { epoch: 0, index: 0 });
    expect(() => runPython(['-c', DECODE], frame.subarray(0, frame.length - 6))).toThrow(/feed closed mid-frame/);
  });

  it('refuses packs whose cumulative_len does not cover the pack', () => {
    const p = syntheticPacks({ numPacks: 1, vocabSize: 100, meanDocLength: 10, packedLength: 40 }).get(0) as Pack;
    expect(() => encodePackFrame({ ...p, cumulative_len: Int32Array.from([0, 5]) }, { epoch: 0, index: 3 })).toThrow(
      /cumulative_len must run from 0 to 40/,
    );
  });
});
