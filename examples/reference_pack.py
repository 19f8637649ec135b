#!/usr/bin/env python3
"""Independent reference for examples/custom-pipeline.ts, in plain Python + numpy.

Reads every .bin under a folder (a directory's own files sorted, then its subdirectories in
sorted order), takes the token counts from the .bin.meta (numpy .npy, (N, 2): offset, count),
skips lines shorter than --min-length, splits tokens into ids and labels (negative or 0 = no loss,
label -100: xtuner's `labels = t if t > 0`), drops samples without a loss token, then concatenates and cuts every
--packed-length tokens (xtuner's Packer; the short tail is dropped). Prints the packs as JSON.

    python3 examples/reference_pack.py <folder> <packed_length> [min_length]
"""
import json
import os
import sys

import numpy as np


def bin_files(d):
    names = sorted(os.listdir(d))
    files = [os.path.join(d, n) for n in names if n.endswith('.bin') and os.path.isfile(os.path.join(d, n))]
    for n in names:
        if os.path.isdir(os.path.join(d, n)):
            files += bin_files(os.path.join(d, n))
    return files


def samples(folder, min_length):
    for path in bin_files(folder):
        meta = np.load(path + '.meta')
        with open(path, 'rb') as f:
            for offset, count in zip(meta[:, 0], meta[:, -1]):
                if count < min_length:
                    continue
                f.seek(int(offset))
                tokens = json.loads(f.readline())['tokens']
                assert len(tokens) == count
                ids = [abs(t) for t in tokens]
                labels = [t if t > 0 else -100 for t in tokens]  # xtuner: token 0 never has a loss
                if any(l != -100 for l in labels):
                    yield ids, labels


def pack(stream, L):
    ids, labels, pos, bounds = [], [], [], [0]
    for s_ids, s_labels in stream:
        off = 0
        while off < len(s_ids):
            take = min(len(s_ids) - off, L - len(ids))
            ids += s_ids[off:off + take]
            labels += s_labels[off:off + take]
            pos += list(range(take))
            off += take
            bounds.append(len(ids))
            if len(ids) == L:
                yield {'input_ids': ids, 'labels': labels, 'position_ids': pos, 'cumulative_len': bounds}
                ids, labels, pos, bounds = [], [], [], [0]


if __name__ == '__main__':
    folder, L = sys.argv[1], int(sys.argv[2])
    min_length = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    json.dump(list(pack(samples(folder, min_length), L)), sys.stdout)
