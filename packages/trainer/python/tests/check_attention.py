"""Varlen (block-diagonal) attention == attention computed per document separately (CPU, math path).
Prints JSON with the max abs difference; the vitest suite asserts on it."""
import json
import math
import sys

import torch

from weft_worker.attention import attention


def per_document(q, k, v, cu):
    """The reference: each document alone, plain causal softmax attention, GQA by repetition."""
    outs = []
    g = q.shape[1] // k.shape[1]
    for s, e in zip(cu[:-1].tolist(), cu[1:].tolist()):
        qq, kk, vv = q[s:e].transpose(0, 1), k[s:e].repeat_interleave(g, 1).transpose(0, 1), v[s:e].repeat_interleave(g, 1).transpose(0, 1)
        n = e - s
        sc = qq.double() @ kk.double().transpose(1, 2) / math.sqrt(q.shape[-1])
        sc = sc + torch.triu(torch.full((n, n), float('-inf'), dtype=torch.float64), 1)
        outs.append((torch.softmax(sc, -1) @ vv.double()).transpose(0, 1))
    return torch.cat(outs)


def main():
    impl = sys.argv[1] if len(sys.argv) > 1 else 'math'
    device = torch.device(sys.argv[2] if len(sys.argv) > 2 else 'cpu')
    dtype = torch.bfloat16 if device.type == 'cuda' else torch.float32
    torch.manual_seed(0)
    cu = torch.tensor([0, 5, 6, 19, 40, 64], dtype=torch.int32)
    t, hq, hkv, d = 64, 4, 2, 16
    if device.type == 'cuda':
        cu = torch.tensor([0, 700, 701, 2900, 5000, 8192], dtype=torch.int32)
        t, hq, hkv, d = 8192, 32, 4, 64
    q, k, v = (torch.randn(t, h, d, dtype=dtype, device=device) for h in (hq, hkv, hkv))
    out = attention(q, k, v, cu.to(device), int((cu[1:] - cu[:-1]).max()), impl)
    ref = per_document(q.cpu(), k.cpu(), v.cpu(), cu)
    # A mask that ignored documents would differ: show the test can fail.
    wrong = per_document(q.cpu(), k.cpu(), v.cpu(), torch.tensor([0, t], dtype=torch.int32))
    print(json.dumps({'impl': impl, 'device': str(device), 'max_abs_diff': (out.double().cpu() - ref).abs().max().item(),
                      'max_abs_diff_unmasked': (wrong - ref).abs().max().item()}))


if __name__ == '__main__':
    main()
