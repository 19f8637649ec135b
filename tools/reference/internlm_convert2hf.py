#!/usr/bin/env python3
"""Python reference for `weft convert internlm-to-hf`: the tensor logic of InternLM's
tools/transformers/convert2hf.py (v1) and InternEvo's transformers/convert2hf_internlm.py /
convert2hf_internlm2.py, re-implemented with torch (no transformers, no model classes): load
model_config.pt and every model_tp{T}_pp{P}.pt, merge the pipeline stages by shifting the first
`.<n>.` of each key, merge the tensor-parallel ranks, rename to the HF keys and split (v1) or
permute (v2, adapt_hf false) the fused attention. Saves the HF state dict with torch.save.

    /usr/bin/python3 internlm_convert2hf.py CKPT_DIR OUT.pt
    /usr/bin/python3 internlm_convert2hf.py --batch < '[[CKPT_DIR, ORIGINAL.pt, WEFT_OUT_DIR, DTYPE or null], ...]'

--batch converts each checkpoint and prints, per case, {"tensors": N, "original": ..., "weft": [...]}:
"original" compares with the full-weight state dict the fixture was split from (an independent
check: "equal" | "close" | the problem); "weft" lists the differences from weft's safetensors output
in WEFT_OUT_DIR (read with tools/convert/read_safetensors.py), each tensor first cast with torch's
.to(DTYPE) when DTYPE (bf16|fp16|fp32) is given; bytes must be equal, except a norm_head
output.weight, where torch's F.normalize sums the norm in SIMD lanes of the CPU's width
(weft sums in f64): at most 2 f32 ulps.

One deviation from InternEvo's v1 script, documented in packages/convert/docs/INTERNLM-CHECKPOINT.md:
the vocab-parallel v1 embedding is concatenated on dim 0 (the script's column slicing only works for tp 1).
"""
import json
import os
import re
import sys

import torch
import torch.nn.functional as F

# InternEvo's convert2hf_internlm2.py updates this base with model_config.pt
V2_BASE = dict(embed_split_hidden=False, no_bias=True, adapt_hf=False, norm_head=False)


def load_source(src):
    cfg = torch.load(os.path.join(src, "model_config.pt"))
    names = [n for n in os.listdir(src) if n.startswith("model_t") and not n.endswith("md5")]
    max_tp = max_pp = -1
    for n in names:
        _, tp, pp = os.path.splitext(n)[0].split("_")
        max_tp = max(max_tp, int(tp[2:]) + 1)
        max_pp = max(max_pp, int(pp[2:]) + 1)
    states = [[torch.load(os.path.join(src, f"model_tp{t}_pp{p}.pt"), map_location="cpu") for p in range(max_pp)] for t in range(max_tp)]
    return cfg, states


def merge_pp(states):
    merged = []
    for tp_states in states:
        shift, out = 0, {}
        for st in tp_states:
            top = 0
            for key, v in st.items():
                if key.endswith(".inv_freq"):
                    continue
                m = re.search(r"\.\d+\.", key)
                name = key
                if m is not None:
                    s, e = m.span()
                    idx = int(key[s + 1 : e - 1])
                    top = max(top, idx)
                    name = key[:s] + f".{idx + shift}." + key[e:]
                if name.startswith("model."):
                    name = name[6:]
                out[name] = v
            shift += top + 1
        merged.append(out)
    return merged


def convert_v1(cfg, states):
    n = len(states)
    heads, dim = cfg["num_attention_heads"], cfg["hidden_size"]
    sd = {}
    for i in range(cfg["num_layers"]):
        b = f"blocks.{i}."
        wqkv = [states[t].pop(b + "mixer.Wqkv.weight").reshape(3, heads // n, -1, dim) for t in range(n)]
        bqkv = [states[t].pop(b + "mixer.Wqkv.bias").reshape(3, heads // n, -1) for t in range(n)]
        p = f"model.layers.{i}."
        for k, x in enumerate("qkv"):
            sd[p + f"self_attn.{x}_proj.weight"] = torch.cat([wqkv[t][k] for t in range(n)], 0).reshape(dim, dim)
            sd[p + f"self_attn.{x}_proj.bias"] = torch.cat([bqkv[t][k] for t in range(n)], 0).reshape(-1)
        sd[p + "self_attn.o_proj.weight"] = torch.cat([states[t][b + "mixer.out_proj.weight"] for t in range(n)], 1)
        sd[p + "self_attn.o_proj.bias"] = states[0][b + "mixer.out_proj.bias"]
        sd[p + "mlp.gate_proj.weight"] = torch.cat([states[t][b + "mlp.w1.weight"] for t in range(n)], 0)
        sd[p + "mlp.up_proj.weight"] = torch.cat([states[t][b + "mlp.w2.weight"] for t in range(n)], 0)
        sd[p + "mlp.down_proj.weight"] = torch.cat([states[t][b + "mlp.w3.weight"] for t in range(n)], 1)
        sd[p + "input_layernorm.weight"] = states[0][b + "norm1.weight"]
        sd[p + "post_attention_layernorm.weight"] = states[0][b + "norm2.weight"]
    key = next(k for k in ["embedding.word_embeddings.weight", "embedding.weight"] if k in states[0])
    sd["model.embed_tokens.weight"] = torch.cat([states[t][key] for t in range(n)], 1 if cfg.get("embed_split_hidden") else 0)
    sd["model.norm.weight"] = states[0]["norm.weight"]
    sd["lm_head.weight"] = torch.cat([states[t]["head.weight"] for t in range(n)], 0)
    return sd


def permute(qkv, heads, kv_heads, head_dim, adapt_hf):
    if adapt_hf:
        return qkv
    q_per_kv = heads // kv_heads
    x = qkv.T.reshape(qkv.shape[1], -1, q_per_kv + 2, head_dim)  # o (g n i) -> o g n i
    q, k, v = x[..., :q_per_kv, :], x[..., -2:-1, :], x[..., -1:, :]
    q = torch.cat([q[..., ::2], q[..., 1::2]], -1)
    k = torch.cat([k[..., ::2], k[..., 1::2]], -1)
    return torch.cat((q, k, v), 2).reshape(qkv.shape[1], -1).T.contiguous()


def convert_v2(cfg, states):
    c = dict(V2_BASE)
    c.update(cfg)
    n = len(states)
    sd = {}
    for i in range(c["num_layers"]):
        b = f"layers.{i}."
        p = f"model.layers.{i}."
        sd[p + "attention_norm.weight"] = states[0][b + "attention_norm.weight"]
        sd[p + "ffn_norm.weight"] = states[0][b + "ffn_norm.weight"]
        sd[p + "attention.wqkv.weight"] = permute(
            torch.cat([states[t][b + "attention.wqkv.weight"] for t in range(n)], 0),
            c["num_attention_heads"], c.get("num_kv_attention_heads", c["num_attention_heads"]),
            c["hidden_size"] // c["num_attention_heads"], c.get("adapt_hf", True))
        sd[p + "attention.wo.weight"] = torch.cat([states[t][b + "attention.wo.weight"] for t in range(n)], 1)
        sd[p + "feed_forward.w1.weight"] = torch.cat([states[t][b + "feed_forward.w1.weight"] for t in range(n)], 0)
        sd[p + "feed_forward.w2.weight"] = torch.cat([states[t][b + "feed_forward.w2.weight"] for t in range(n)], 1)
        sd[p + "feed_forward.w3.weight"] = torch.cat([states[t][b + "feed_forward.w3.weight"] for t in range(n)], 0)
    key = next(k for k in ["tok_embeddings.word_embeddings.weight", "tok_embeddings.weight"] if k in states[0])
    sd["model.tok_embeddings.weight"] = torch.cat([states[t][key] for t in range(n)], 1 if c["embed_split_hidden"] else 0)
    sd["model.norm.weight"] = states[0]["norm.weight"]
    out = torch.cat([states[t]["output.weight"] for t in range(n)], 0)
    sd["output.weight"] = F.normalize(out, dim=-1) if c["norm_head"] else out
    return sd


def convert(src):
    cfg, states = load_source(src)
    merged = merge_pp(states)
    v1 = any(".mixer.Wqkv." in k for k in merged[0])
    return convert_v1(cfg, merged) if v1 else convert_v2(cfg, merged)


def against(sd, original_path):
    orig = torch.load(original_path)
    if set(orig) != set(sd):
        return f"keys differ: {sorted(set(orig) ^ set(sd))[:5]}"
    close = False
    for k, v in orig.items():
        if v.dtype != sd[k].dtype or v.shape != sd[k].shape:
            return f"{k}: {sd[k].dtype}{list(sd[k].shape)} vs original {v.dtype}{list(v.shape)}"
        if not torch.equal(v, sd[k]):
            if not torch.allclose(v.float(), sd[k].float(), rtol=1e-6, atol=1e-7):
                return f"{k}: values differ (max {(v.float() - sd[k].float()).abs().max().item()})"
            close = True
    return "close" if close else "equal"


NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
CAST = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
NP = {"F32": "<f4", "F16": "<i2", "BF16": "<i2"}


def against_weft(sd, out, dtype, norm_head):
    import numpy as np

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "convert"))
    from read_safetensors import read_any

    got = read_any(out)
    problems = [f"unexpected {k}" for k in sorted(set(got) - set(sd))]
    for k, t in sd.items():
        if dtype:
            t = t.to(CAST[dtype])
        if k not in got:
            problems.append(f"missing {k}")
            continue
        dt, shape, data = got[k]
        if dt != NAMES[t.dtype] or list(shape) != list(t.shape):
            problems.append(f"{k}: {dt}{shape} != {NAMES[t.dtype]}{list(t.shape)}")
            continue
        want = t.view(torch.int16) if t.dtype in (torch.float16, torch.bfloat16) else t
        if data == want.numpy().tobytes():
            continue
        if norm_head and k == "output.weight" and t.dtype == torch.float32:
            g = torch.from_numpy(np.frombuffer(data, dtype="<f4").reshape(shape).copy())
            same_sign = bool(((g < 0) == (t < 0)).all())
            ulps = (g.view(torch.int32).long() - t.view(torch.int32).long()).abs().max().item()
            if same_sign and ulps <= 2:
                continue
            problems.append(f"{k}: {ulps} ulp off")
        else:
            problems.append(f"{k}: bytes differ")
    return problems


def main():
    if sys.argv[1] == "--batch":
        results = []
        for src, original, out, dtype in json.load(sys.stdin):
            sd = {k: v.contiguous() for k, v in convert(src).items()}
            norm_head = bool(torch.load(os.path.join(src, "model_config.pt")).get("norm_head"))
            results.append({"tensors": len(sd), "original": against(sd, original) if original else None,
                            "weft": against_weft(sd, out, dtype, norm_head) if out else None})
        print(json.dumps(results))
        return
    sd = {k: v.contiguous() for k, v in convert(sys.argv[1]).items()}
    torch.save(sd, sys.argv[2])


if __name__ == "__main__":
    main()
