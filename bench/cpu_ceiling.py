#!/usr/bin/env python3
"""How well this machine's cores scale on tokenizer work alone: the ceiling for bench/process-scale.ts.

N independent processes (N = 1, 2, 4, ...) each encode the same texts with the HF `tokenizers` Rust
tokenizer on one thread (TOKENIZERS_PARALLELISM=false), started together behind a barrier, with
nothing shared and nothing written. Efficiency at N = aggregate rate / (N x the rate of one alone).
A pipeline cannot scale better than this on the same machine (shared caches, memory bandwidth,
SMT siblings and turbo clocks all show up here).

Usage: cpu_ceiling.py CORPUS_FILE TOKENIZER_DIR N[,N...] [MB]
"""
import json
import multiprocessing as mp
import os
import sys
import time

os.environ['TOKENIZERS_PARALLELISM'] = 'false'


def texts_of(path, mb):
    out, size = [], 0
    with open(path, encoding='utf-8') as f:
        for line in f:
            for m in json.loads(line):
                out.append(m['content'])
                size += len(m['content'].encode())
            if size >= mb * 1e6:
                break
    return out, size


def work(tok_dir, texts, barrier, q):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(tok_dir, 'tokenizer.json'))
    tok.encode_batch(texts[:64], add_special_tokens=False)
    barrier.wait()
    t0 = time.perf_counter()
    for i in range(0, len(texts), 64):
        tok.encode_batch(texts[i:i + 64], add_special_tokens=False)
    q.put(time.perf_counter() - t0)


def main():
    path, tok_dir, counts = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3].split(',')]
    texts, size = texts_of(path, float(sys.argv[4]) if len(sys.argv) > 4 else 3)
    ctx = mp.get_context('fork')
    base = None
    print(f'{size / 1e6:.1f} MB of message text per process, {os.cpu_count()} CPUs')
    print('| processes | slowest s | aggregate MB/s | efficiency |')
    print('| ---: | ---: | ---: | ---: |')
    for n in counts:
        barrier, q = ctx.Barrier(n), ctx.Queue()
        procs = [ctx.Process(target=work, args=(tok_dir, texts, barrier, q)) for _ in range(n)]
        for p in procs:
            p.start()
        times = [q.get() for _ in procs]
        for p in procs:
            p.join()
        rate = sum(size / 1e6 / t for t in times)
        base = base or rate
        print(f'| {n} | {max(times):.2f} | {rate:.2f} | {rate / (n * base) * 100:.0f}% |', flush=True)


if __name__ == '__main__':
    main()
