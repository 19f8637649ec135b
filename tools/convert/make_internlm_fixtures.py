"""Make tiny InternLM / InternEvo training checkpoint folders for `weft convert internlm-to-hf`,
with the PyTorch CI installs (Debian python3-torch). Run at test time:

    /usr/bin/python3 make_internlm_fixtures.py OUT_DIR [--vocab N] [--cases a,b]

--vocab sets the vocabulary size (default 24; the trainer's end-to-end test uses a tokenizer's 1000);
--cases makes only the named cases and no bad inputs.

Each case starts from full weights under their Hugging Face names (saved as
OUT_DIR/<case>.original.pt) and splits them the way InternLM's tensor-parallel ranks hold them
(per-rank fused qkv of the rank's own heads, column/row parallel linears, vocab-parallel or
hidden-split embedding) and its pipeline stages number them (layers from 0 in every stage,
embedding in the first stage, norm and head in the last). See packages/convert/docs/INTERNLM-CHECKPOINT.md.

Cases (OUT_DIR/<case>/): see CASES below (one stores some tensors as non-contiguous views). Bad inputs (OUT_DIR/bad/<name>/): missing shard, shape
mismatch between tp ranks, unknown key, truncated shard, hostile model_config.pt and shard
(os.system via __reduce__; the marker OUT_DIR/PWNED must never appear), weight-parallel file.
Prints the case list as JSON.
"""
import json
import os
import shutil
import sys

import torch
import torch.nn.functional as F

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
_opts = dict(zip(sys.argv[2::2], sys.argv[3::2]))
DT = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}

CASES = {
    # name: version, tp, pp, layers, dtype, options
    "v1_tp1_pp1": dict(v=1, tp=1, pp=1, L=2, dtype="fp32", extras=True),
    "v1_tp2_pp2": dict(v=1, tp=2, pp=2, L=3, dtype="fp32", prefix=True, strided=True),
    "v1_tp2_pp1_split_bf16": dict(v=1, tp=2, pp=1, L=2, dtype="bf16", split=True),
    "v1_tp1_pp2_fp16": dict(v=1, tp=1, pp=2, L=2, dtype="fp16"),
    "v2_tp1_pp2": dict(v=2, tp=1, pp=2, L=3, dtype="fp32", adapt_hf=True),
    "v2_tp2_pp2_permute_fp16": dict(v=2, tp=2, pp=2, L=3, dtype="fp16", adapt_hf=False),
    "v2_tp2_pp1_normhead": dict(v=2, tp=2, pp=1, L=2, dtype="fp32", adapt_hf=True, norm_head=True, split=True),
    "v2_tp1_pp1": dict(v=2, tp=1, pp=1, L=2, dtype="bf16", adapt_hf=None),
}
H, HEADS, KV, I, V = 16, 4, 2, 32, int(_opts.get("--vocab", 24))
D = H // HEADS


class Evil:
    """Pickles as a call to os.system: a real unpickler runs it."""

    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def full_weights(c, g):
    dt = DT[c["dtype"]]
    r = lambda *s: torch.randn(*s, generator=g).to(dt)  # noqa: E731
    w = {"emb": r(V, H), "norm": r(H), "head": r(V, H), "layers": []}
    for _ in range(c["L"]):
        lw = {"n1": r(H), "n2": r(H), "gate": r(I, H), "up": r(I, H), "down": r(H, I), "o": r(H, H)}
        if c["v"] == 1:
            lw.update(q=r(H, H), k=r(H, H), v=r(H, H), qb=r(H), kb=r(H), vb=r(H), ob=r(H))
        else:
            lw["wqkv"] = r(KV * (HEADS // KV + 2) * D, H)
        w["layers"].append(lw)
    return w


def hf_names(c, w):
    out = {}
    if c["v"] == 1:
        out["model.embed_tokens.weight"] = w["emb"]
        for i, lw in enumerate(w["layers"]):
            p = f"model.layers.{i}."
            for x in "qkv":
                out[p + f"self_attn.{x}_proj.weight"] = lw[x]
                out[p + f"self_attn.{x}_proj.bias"] = lw[x + "b"]
            out[p + "self_attn.o_proj.weight"] = lw["o"]
            out[p + "self_attn.o_proj.bias"] = lw["ob"]
            out[p + "mlp.gate_proj.weight"] = lw["gate"]
            out[p + "mlp.up_proj.weight"] = lw["up"]
            out[p + "mlp.down_proj.weight"] = lw["down"]
            out[p + "input_layernorm.weight"] = lw["n1"]
            out[p + "post_attention_layernorm.weight"] = lw["n2"]
        out["lm_head.weight"] = w["head"]
    else:
        out["model.tok_embeddings.weight"] = w["emb"]
        for i, lw in enumerate(w["layers"]):
            p = f"model.layers.{i}."
            out[p + "attention.wqkv.weight"] = lw["wqkv"]
            out[p + "attention.wo.weight"] = lw["o"]
            out[p + "feed_forward.w1.weight"] = lw["gate"]
            out[p + "feed_forward.w3.weight"] = lw["up"]
            out[p + "feed_forward.w2.weight"] = lw["down"]
            out[p + "attention_norm.weight"] = lw["n1"]
            out[p + "ffn_norm.weight"] = lw["n2"]
        out["output.weight"] = F.normalize(w["head"], dim=-1) if c.get("norm_head") else w["head"]
    out["model.norm.weight"] = w["norm"]
    return {k: v.clone().contiguous() for k, v in out.items()}


def interleave(wqkv):
    """HF half-split rotary rows → interleaved rows, for q and k of every group (inverse of InternEvo's permute)."""
    q_per_kv = HEADS // KV
    x = wqkv.reshape(KV, q_per_kv + 2, D, H).clone()
    half = x[:, : q_per_kv + 1]
    inter = torch.empty_like(half)
    inter[:, :, 0::2] = half[:, :, : D // 2]
    inter[:, :, 1::2] = half[:, :, D // 2 :]
    x[:, : q_per_kv + 1] = inter
    return x.reshape(-1, H)


def rank_layer(c, lw, t):
    tp = c["tp"]
    ch = lambda x, dim: x.chunk(tp, dim)[t].clone()  # noqa: E731
    if c["v"] == 1:
        n = H // tp
        s = slice(t * n, (t + 1) * n)
        return {
            "mixer.Wqkv.weight": torch.cat([lw["q"][s], lw["k"][s], lw["v"][s]], 0),
            "mixer.Wqkv.bias": torch.cat([lw["qb"][s], lw["kb"][s], lw["vb"][s]], 0),
            "mixer.out_proj.weight": ch(lw["o"], 1),
            "mixer.out_proj.bias": lw["ob"].clone(),
            "mlp.w1.weight": ch(lw["gate"], 0),
            "mlp.w2.weight": ch(lw["up"], 0),
            "mlp.w3.weight": ch(lw["down"], 1),
            "norm1.weight": lw["n1"].clone(),
            "norm2.weight": lw["n2"].clone(),
        }
    wqkv = lw["wqkv"] if c.get("adapt_hf") else interleave(lw["wqkv"])
    return {
        "attention.wqkv.weight": ch(wqkv, 0),  # whole kv groups per rank
        "attention.wo.weight": ch(lw["o"], 1),
        "feed_forward.w1.weight": ch(lw["gate"], 0),
        "feed_forward.w3.weight": ch(lw["up"], 0),
        "feed_forward.w2.weight": ch(lw["down"], 1),
        "attention_norm.weight": lw["n1"].clone(),
        "ffn_norm.weight": lw["n2"].clone(),
    }


def write_case(name, c, g, folder):
    os.makedirs(folder, exist_ok=True)
    w = full_weights(c, g)
    if c["v"] == 2 and c.get("norm_head"):
        w["head"] = w["head"] * 3  # not unit rows: the converter must normalise
    tp, pp, L = c["tp"], c["pp"], c["L"]
    per = [L // pp + (1 if s < L % pp else 0) for s in range(pp)]
    starts = [sum(per[:s]) for s in range(pp)]
    blk = "blocks" if c["v"] == 1 else "layers"
    emb_key = ("embedding.weight" if c.get("split") else "embedding.word_embeddings.weight") if c["v"] == 1 else "tok_embeddings.weight"
    head_key = "head.weight" if c["v"] == 1 else "output.weight"
    for t in range(tp):
        for s in range(pp):
            sd = {}
            if s == 0:
                sd[emb_key] = w["emb"].chunk(tp, 1 if c.get("split") else 0)[t].clone()
            for j in range(per[s]):
                for k, v in rank_layer(c, w["layers"][starts[s] + j], t).items():
                    sd[f"{blk}.{j}.{k}"] = v
                if c.get("extras") and c["v"] == 1:
                    sd[f"{blk}.{j}.mixer.rotary_emb.inv_freq"] = 1.0 / (10000 ** (torch.arange(0, D, 2).float() / D))
            if s == pp - 1:
                sd["norm.weight"] = w["norm"].clone()
                sd[head_key] = w["head"].chunk(tp, 0)[t].clone()
            if c.get("strided") and t == 1 and s == 0:
                # stored as non-contiguous views (same values): the converter's gather paths
                for k in ("blocks.0.mixer.Wqkv.weight", "blocks.0.mlp.w3.weight", "blocks.0.mlp.w1.weight"):
                    sd[k] = sd[k].t().contiguous().t()
                assert not sd["blocks.0.mlp.w3.weight"].is_contiguous()
            if c.get("prefix"):
                sd = {"model." + k: v for k, v in sd.items()}
            torch.save(sd, os.path.join(folder, f"model_tp{t}_pp{s}.pt"))
            torch.save({"topology": "not read"}, os.path.join(folder, f"topo_tp{t}_pp{s}.json"))
    cfg = dict(num_chunks=1, checkpoint=False, dtype=torch.bfloat16, embed_split_hidden=bool(c.get("split")), num_layers=L,
               hidden_size=H, vocab_size=V, embed_grad_scale=1, parallel_output=True, num_attention_heads=HEADS,
               mlp_ratio=8 / 3, norm_type="rmsnorm", layer_norm_epsilon=1e-5, use_flash_attn=True)
    if c["v"] == 2:
        cfg.update(num_kv_attention_heads=KV, no_bias=True, rope_base=1000000, norm_head=bool(c.get("norm_head")))
        if c.get("adapt_hf") is not None:
            cfg["adapt_hf"] = c["adapt_hf"]
    torch.save(cfg, os.path.join(folder, "model_config.pt"))
    if c.get("extras"):
        torch.save({"step_count": 7, "batch_count": 7}, os.path.join(folder, "context.pt"))
        with open(os.path.join(folder, "model_tp0_pp0.pt.md5"), "w") as f:
            f.write("0" * 32)
    torch.save(hf_names(c, w), os.path.join(OUT, f"{name}.original.pt"))


def main():
    g = torch.Generator().manual_seed(0)
    only = _opts["--cases"].split(",") if "--cases" in _opts else None
    for name, c in CASES.items():
        if only is None or name in only:
            write_case(name, c, g, os.path.join(OUT, name))
    if only is not None:
        print(json.dumps({"cases": {k: CASES[k] for k in only}}))
        return
    bad = os.path.join(OUT, "bad")
    base = dict(v=1, tp=2, pp=2, L=2, dtype="fp32")

    def fresh(n):
        d = os.path.join(bad, n)
        write_case("bad_" + n, base, g, d)
        os.remove(os.path.join(OUT, f"bad_{n}.original.pt"))
        return d

    os.remove(os.path.join(fresh("missing"), "model_tp1_pp1.pt"))
    d = fresh("shape")
    p = os.path.join(d, "model_tp1_pp1.pt")
    sd = torch.load(p)
    sd["blocks.0.mlp.w1.weight"] = torch.randn(I // 2 + 1, H, generator=g)
    torch.save(sd, p)
    d = fresh("unknown")
    p = os.path.join(d, "model_tp0_pp1.pt")
    sd = torch.load(p)
    sd["blocks.0.mixer.lora_A.weight"] = torch.zeros(2, H)
    torch.save(sd, p)
    d = fresh("truncated")
    p = os.path.join(d, "model_tp1_pp0.pt")
    data = open(p, "rb").read()
    with open(p, "wb") as f:
        f.write(data[: len(data) // 2])
    marker = os.path.join(OUT, "PWNED")
    d = fresh("hostile_config")
    torch.save(Evil(f"touch {marker}"), os.path.join(d, "model_config.pt"))
    d = fresh("hostile_shard")
    p = os.path.join(d, "model_tp0_pp0.pt")
    sd = torch.load(p)
    sd["blocks.0.norm1.weight"] = Evil(f"touch {marker}")
    torch.save(sd, p)
    d = fresh("wp")
    shutil.copy(os.path.join(d, "model_tp0_pp0.pt"), os.path.join(d, "model_wp0_pp0.pt"))
    print(json.dumps({"cases": {k: {kk: vv for kk, vv in v.items()} for k, v in CASES.items()}}))


main()
