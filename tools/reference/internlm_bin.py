#!/usr/bin/env python3
"""Python reference for InternLM .bin/.bin.meta files, written with json + numpy as InternLM's tools do.

  internlm_bin.py bin TOKENS_JSON OUT.bin
      tools/tokenizer.py: one `json.dumps({"tokens": ids}) + "\\n"` line per list, then the meta
      built by re-reading the .bin (prepare_meta) and saved with np.save as int32 (N, 2).
  internlm_bin.py split TOKENS_JSON OUT_DIR RATIO
      tools/alpaca_tokenizer.py dump_bin_meta_bin: np.random.seed(0),
      np.random.choice(range(n), int(n * ratio)) picks validation lines; train/en/dataset.bin and
      valid/en/dataset.bin with metas saved from Python lists (int64).
  internlm_bin.py empty OUT.meta
      np.zeros((0, 2), np.int32), the meta weft writes for an empty .bin.
  internlm_bin.py dumps RECORDS_JSON
      prints json.dumps(record) for each record of a JSON array, one per line (InternLM's .json quirk).
TOKENS_JSON holds a JSON array of token-id arrays.
"""
import json
import os
import sys

import numpy as np


def write_bin(lines, path):
    with open(path, 'wb') as f:
        for tokens in lines:
            f.write(str.encode(json.dumps(dict(tokens=tokens)) + '\n'))
    meta, cur = [], 0
    with open(path, 'rb') as f:
        while True:
            line = f.readline()
            if line == b'':
                break
            meta.append((cur, len(json.loads(line)['tokens'])))
            cur += len(line)
    with open(path + '.meta', 'wb') as f:
        np.save(f, np.array(meta, dtype=np.int32))


def split(lines, out, ratio):
    dirs = {k: os.path.join(out, k, 'en') for k in ('train', 'valid')}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)
    np.random.seed(0)
    valid_indices = np.random.choice(range(len(lines)), int(len(lines) * ratio)).tolist()
    files = {k: open(os.path.join(d, 'dataset.bin'), 'wb') for k, d in dirs.items()}
    metas = {'train': [], 'valid': []}
    pos = {'train': 0, 'valid': 0}
    for i, tokens in enumerate(lines):
        k = 'valid' if i in valid_indices else 'train'
        line = str.encode(json.dumps({'tokens': tokens}) + '\n')
        files[k].write(line)
        metas[k].append((pos[k], len(tokens)))
        pos[k] += len(line)
    for k, d in dirs.items():
        files[k].close()
        np.save(open(os.path.join(d, 'dataset.bin.meta'), 'wb'), metas[k])


def main():
    mode = sys.argv[1]
    if mode == 'dumps':
        for rec in json.load(open(sys.argv[2], encoding='utf-8')):
            print(json.dumps(rec))
        return
    if mode == 'empty':  # what weft writes for an empty .bin (InternLM's tool would give shape (0,))
        np.save(open(sys.argv[2], 'wb'), np.zeros((0, 2), dtype=np.int32))
        return
    lines = json.load(open(sys.argv[2]))
    if mode == 'bin':
        write_bin(lines, sys.argv[3])
    elif mode == 'split':
        split(lines, sys.argv[3], float(sys.argv[4]))
    else:
        raise SystemExit(f'unknown mode {mode}')


if __name__ == '__main__':
    main()
