import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../../tools/test/temp-dir.ts';
import { collect, fromIterable, pipe, type Pack, type Sample } from '@weft/core';
import { packStreaming } from './streaming.ts';

const REF_PACKER = new URL('../../../tools/reference/xtuner_packer.py', import.meta.url).pathname;

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
  it("cuts like xtuner's Packer", async () => {
    for (const [lens, L] of [
      [[5, 3, 9, 1, 8, 4], 4],
      [[10, 10, 10], 10],
      [[2, 30, 7, 7, 1], 8],
    ] as [number[], number][]) {
      const want = JSON.parse(
        execFileSync('python3', ['-c', PY_PACKER, JSON.stringify(lens), String(L)], { encoding: 'utf8' }),
      ) as { input_ids: number[]; cumulative_len: number[]; position_ids: number[] }[];
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

  // Issue 14 item 7: empty samples. xtuner's Packer (tools/reference/xtuner_packer.py) appends a
  // boundary per sample, so an empty one duplicates the previous boundary; weft leaves it out unless
  // exactXtuner. Empty samples at the start, mid-pack, right after a pack that closed at a sample's
  // end (one, two, three of them), after a cut sample, and fed in several calls.
  it("empty samples: exactXtuner gives the reference's duplicate boundaries; the default leaves them out", async () => {
    const dir = tempDir('weft-streaming-empty-');
    const cases: [number[], number, number?][] = [
      [[0, 3, 0, 2, 3, 0, 4, 0, 0, 4, 0, 0, 0, 6, 2], 4],
      [[5, 0, 3, 0, 0, 8, 0, 1, 7, 0], 8],
      [[4, 4, 0, 4, 0, 0, 4], 4, 3],
      [[9, 0, 0, 0, 3, 0, 6], 6, 4],
    ];
    for (const [lens, L, B] of cases) {
      const samples: Sample[] = lens.map((n, k) => {
        const ids = Int32Array.from({ length: n }, (_, i) => 100 * k + 1 + i);
        return { input_ids: ids, labels: ids.slice() };
      });
      const file = join(dir, 'samples.json');
      writeFileSync(file, JSON.stringify(samples.map((s) => Array.from(s.input_ids))));
      const want = JSON.parse(
        execFileSync('python3', [REF_PACKER, file, String(L), ...(B ? [String(B)] : [])], { encoding: 'utf8' }),
      ) as { input_ids: number[]; labels: number[]; cumulative_len: number[]; position_ids: number[] }[];
      expect(
        want.some((p) => p.cumulative_len.some((v, i, a) => i > 0 && v === a[i - 1])),
        `case ${lens}`,
      ).toBe(true);
      const plain = (p: Pack): (typeof want)[number] => ({
        input_ids: Array.from(p.input_ids),
        labels: Array.from(p.labels),
        cumulative_len: Array.from(p.cumulative_len),
        position_ids: Array.from(p.position_ids),
      });
      const exact = (
        await collect(pipe(fromIterable(samples), packStreaming({ packedLength: L, exactXtuner: true })))
      ).map(plain);
      expect(exact, `case ${lens}`).toEqual(want);
      const dedup = want.map((p) => ({
        ...p,
        cumulative_len: p.cumulative_len.filter((v, i, a) => i === 0 || v !== a[i - 1]),
      }));
      const plainDefault = (await collect(pipe(fromIterable(samples), packStreaming({ packedLength: L })))).map(plain);
      expect(plainDefault, `case ${lens}`).toEqual(dedup);
    }
  });

  it('keeps the short tail when dropLast is false', async () => {
    const s = { input_ids: Int32Array.of(1, 2, 3), labels: Int32Array.of(1, 2, 3) };
    const packs = await collect(pipe(fromIterable([s, s]), packStreaming({ packedLength: 4, dropLast: false })));
    expect(packs.map((p) => Array.from(p.cumulative_len))).toEqual([
      [0, 3, 4],
      [0, 2],
    ]);
    expect(Array.from(packs[1]!.position_ids)).toEqual([0, 1]);
  });
});
