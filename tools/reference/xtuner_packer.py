#!/usr/bin/env python3
"""xtuner's streaming `Packer` (xtuner/dataset/utils.py, v0.2.0) with use_varlen_attn=True, restated.

usage: python3 xtuner_packer.py SAMPLES_JSON PACKED_LENGTH [BATCH]

SAMPLES_JSON: a JSON array of input_ids lists (labels are taken equal to input_ids). The samples go
through the packer in calls of BATCH samples (default: all in one call), as `datasets.map(batched=True)`
hands them over; the residual carries from call to call. Boundaries are kept as xtuner keeps them,
so an empty sample adds a boundary equal to the previous one (a duplicate in `cumulative_len`).
A call whose tokens do not fill one pack returns them as one short pack (drop_last=False, xtuner's
default); this script fails instead, so that a test never relies on that.
Prints the packs as JSON: [{"input_ids", "labels", "cumulative_len", "position_ids"}, ...].
"""
import json
import sys

import numpy as np


class Packer:
    def __init__(self, chunk_size):
        self.chunk_size = chunk_size
        self.residual = {'input_ids': [], 'labels': []}
        self.residual_cumulative_len = [0]

    def cumulative_lens(self, chunk_num):
        ptr_l, out = 0, []
        for c in range(chunk_num):
            length_train = (c + 1) * self.chunk_size
            ptr_r = int(np.searchsorted(self.residual_cumulative_len, length_train, side='left'))
            if self.residual_cumulative_len[ptr_r] == length_train:
                cur = self.residual_cumulative_len[ptr_l:ptr_r + 1]
                ptr_l = ptr_r + 1
            else:
                cur = self.residual_cumulative_len[ptr_l:ptr_r] + [length_train]
                ptr_l = ptr_r
            cur = [v - c * self.chunk_size for v in cur]
            if cur[0] != 0:
                cur = [0] + cur
            out.append(cur)
        rest = [v - length_train for v in self.residual_cumulative_len[ptr_l:]]
        self.residual_cumulative_len = [0] if not rest else rest if rest[0] == 0 else [0] + rest
        return out

    def __call__(self, batch):
        cat = {k: v + [t for x in batch[k] for t in x] for k, v in self.residual.items()}
        for ids in batch['input_ids']:
            self.residual_cumulative_len.append(self.residual_cumulative_len[-1] + len(ids))
        total = len(cat['input_ids'])
        if total < self.chunk_size:
            raise SystemExit('a call with less than one pack of tokens: xtuner would emit a short pack here')
        n = total // self.chunk_size
        L = self.chunk_size
        packs = [{k: v[i * L:(i + 1) * L] for k, v in cat.items()} for i in range(n)]
        self.residual = {k: v[n * L:] for k, v in cat.items()}
        for p, cum in zip(packs, self.cumulative_lens(n)):
            p['cumulative_len'] = cum
            p['position_ids'] = [i for a, b in zip(cum, cum[1:]) for i in range(b - a)]
        return packs


def main():
    samples = json.load(open(sys.argv[1]))
    L = int(sys.argv[2])
    B = int(sys.argv[3]) if len(sys.argv) > 3 else max(1, len(samples))
    packer, out = Packer(L), []
    for s in range(0, len(samples), B):
        part = samples[s:s + B]
        out += packer({'input_ids': part, 'labels': [list(x) for x in part]})
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main()
