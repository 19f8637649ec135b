#!/usr/bin/env python3
"""numpy reference of xtuner's length-seeded packing over a folder of InternLM .bin/.bin.meta files
(xtuner-data.md sections 1 and 3): the algorithm of xtuner's JsonlDataset + PackedDataset, written
with numpy and the json module as xtuner runs it. Used by bench/pack.ts (speed) and by the pack
package's tests (values).

    python3 tools/reference/pack_ref.py FOLDER --packed-length L [--seed S] [--min-length M]
        [--files a.bin,b.bin] [--max-packs N] [--dump out.json]

Files: --files (in that order), else every *.bin under FOLDER sorted by relative path.
Prints a JSON line: {"packs", "tokens", "seconds", "cpu" (CPU seconds), "checksum"}; --dump writes every pack.
"""
import argparse
import json
import os
import sys
import time

import numpy as np


def load_file(path, min_length):
    meta = np.load(path + ".meta")
    offsets, lengths = meta[:, 0], meta[:, -1]
    if min_length > 0:
        keep = lengths >= min_length
        offsets, lengths = offsets[keep], lengths[keep]
    return offsets, lengths


def packs_of_file(path, packed_length, seed, min_length):
    offsets, lengths = load_file(path, min_length)
    if len(lengths) == 0:
        return
    perm = np.arange(len(lengths))
    np.random.RandomState(seed).shuffle(perm)
    slen = lengths[perm]
    acc = np.cumsum(slen)
    n_packs = int(lengths.sum()) // packed_length
    f = open(path, "rb")

    def read(k):
        f.seek(int(offsets[perm[k]]))
        return np.asarray(json.loads(f.readline())["tokens"], dtype=np.int64)

    for p in range(n_packs):
        b, bt = 0, 0
        if p > 0:
            b = int(np.searchsorted(acc, p * packed_length, side="left"))
            bt = int(slen[b] - (acc[b] - p * packed_length))
            if bt == slen[b]:
                b, bt = b + 1, 0
        e = int(np.searchsorted(acc, (p + 1) * packed_length, side="left"))
        et = int(slen[e] - (acc[e] - (p + 1) * packed_length))
        chunks, cum = [], [0]
        for k in range(b, e + 1):
            t = read(k)
            piece = t[bt:] if k < e else t[bt:et]
            chunks.append(piece)
            cum.append(cum[-1] + len(piece))
            bt = 0
        toks = np.concatenate(chunks)
        yield {
            "input_ids": np.abs(toks),
            "labels": np.where(toks > 0, toks, -100),
            "cumulative_len": np.asarray(cum),
            "position_ids": np.concatenate([np.arange(len(c)) for c in chunks]),
        }
    f.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--packed-length", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1024)
    ap.add_argument("--min-length", type=int, default=0)
    ap.add_argument("--files")
    ap.add_argument("--max-packs", type=int, default=0)
    ap.add_argument("--dump")
    a = ap.parse_args()
    if a.files:
        files = a.files.split(",")
    else:
        files = sorted(os.path.relpath(os.path.join(r, n), a.folder)
                       for r, _, ns in os.walk(a.folder, followlinks=True) for n in ns if n.endswith(".bin"))
    t0, c0 = time.perf_counter(), time.process_time()
    n, tokens, checksum, dump = 0, 0, 0, []
    for rel in files:
        for pack in packs_of_file(os.path.join(a.folder, rel), a.packed_length, a.seed, a.min_length):
            n += 1
            tokens += len(pack["input_ids"])
            # Same checksum as bench/pack.ts: sum of input_ids and labels, position-weighted mod 2**31.
            checksum = (checksum + int(pack["input_ids"].sum()) + 3 * int(pack["labels"].sum()) + 7 * len(pack["cumulative_len"])) % 2147483648
            if a.dump:
                dump.append({k: v.tolist() for k, v in pack.items()})
            if a.max_packs and n >= a.max_packs:
                break
        if a.max_packs and n >= a.max_packs:
            break
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    if a.dump:
        with open(a.dump, "w") as o:
            json.dump(dump, o)
    print(json.dumps({"packs": n, "tokens": tokens, "seconds": secs, "cpu": cpu, "checksum": checksum}))


if __name__ == "__main__":
    sys.exit(main())
