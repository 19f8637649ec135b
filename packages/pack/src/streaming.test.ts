import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { collect, fromIterable, pipe, type Sample } from '@weft/core';
import { packStreaming } from './streaming.ts';

/** xtuner's Packer (varlen) re-stated in Python over one batch: the reference for the cut points. */
const PY_PACKER = `
import json, sys, numpy as np
lens, L = json.loads(sys.argv[1]), int(sys.argv[2])
ids = [list(range(100 * k + 1, 100 * k + 1 + n)) for k, n in enumerate(lens)]
flat = [t for x in ids for t in x]
cum = [0]
for x in ids: cum.append(cum[-1] + len(x))
out, ptr_l = [], 0
for c in range(len(flat) // L):
    lt = (c + 1) * L
    ptr_r = int(np.searchsorted(cum, lt, side='left'))
    if cum[ptr_r] == lt:
        cur = cum[ptr_l:ptr_r + 1]; ptr_l = ptr_r + 1
    else:
        cur = cum[ptr_l:ptr_r] + [lt]; ptr_l = ptr_r
    cur = [v - c * L for v in cur]
    if cur[0] != 0: cur = [0] + cur
    pos = [i for a, b in zip(cur, cur[1:]) for i in range(b - a)]
    out.append({"input_ids": flat[c * L:(c + 1) * L], "cumulative_len": cur, "position_ids": pos})
print(json.dumps(out))`;

describe('packStreaming', () => {
  it('cuts like xtuner\'s Packer', async () => {
    for (const [lens, L] of [[[5, 3, 9, 1, 8, 4], 4], [[10, 10, 10], 10], [[2, 30, 7, 7, 1], 8]] as [number[], number][]) {
      const want = JSON.parse(execFileSync('python3', ['-c', PY_PACKER, JSON.stringify(lens), String(L)], { encoding: 'utf8' })) as
        { input_ids: number[]; cumulative_len: number[]; position_ids: number[] }[];
      const samples: Sample[] = lens.map((n, k) => {
        const ids = Int32Array.from({ length: n }, (_, i) => 100 * k + 1 + i);
        return { input_ids: ids, labels: ids.map((t) => (t % 2 ? t : -100)) };
      });
      const packs = await collect(pipe(fromIterable(samples), packStreaming({ packedLength: L })));
      expect(packs.length).toBe(want.length);
      packs.forEach((p, i) => {
        expect(Array.from(p.input_ids)).toEqual(want[i]!.input_ids);
        expect(Array.from(p.labels)).toEqual(want[i]!.input_ids.map((t) => (t % 2 ? t : -100)));
        expect(Array.from(p.cumulative_len)).toEqual(want[i]!.cumulative_len);
        expect(Array.from(p.position_ids)).toEqual(want[i]!.position_ids);
      });
    }
  });

  it('keeps the short tail when dropLast is false', async () => {
    const s = { input_ids: Int32Array.of(1, 2, 3), labels: Int32Array.of(1, 2, 3) };
    const packs = await collect(pipe(fromIterable([s, s]), packStreaming({ packedLength: 4, dropLast: false })));
    expect(packs.map((p) => Array.from(p.cumulative_len))).toEqual([[0, 3, 4], [0, 2]]);
    expect(Array.from(packs[1]!.position_ids)).toEqual([0, 1]);
  });
});
