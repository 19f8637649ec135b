#!/usr/bin/env python3
"""Independent reference for weft's Turbomind layout (packages/convert/TURBOMIND.md), written
with whole-array torch operations (reshape / transpose / cat / chunk) rather than index maps.

Usage: turbomind_reference.py <out-dir> <case-json>
Writes <out-dir>/hf/{config.json, model.safetensors} (a random tiny model) and
<out-dir>/expected/<file> for every weight file the workspace must hold.
Run by /usr/bin/python3 (Debian's PyTorch); needs torch only.
"""
import json
import os
import struct
import sys

import torch

ST = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16'}
TORCH = {'float32': torch.float32, 'float16': torch.float16, 'bfloat16': torch.bfloat16}


def save_safetensors(path, tensors):
    header, blobs, pos = {}, [], 0
    for k, t in tensors.items():
        t = t.contiguous()
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[k] = {'dtype': ST[t.dtype], 'shape': list(t.shape), 'data_offsets': [pos, pos + len(raw)]}
        blobs.append(raw)
        pos += len(raw)
    text = json.dumps(header).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))


def raw(t):
    t = t.contiguous()
    return (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()


def rotary(x, d):
    """HF pairs (i, i + d/2) -> adjacent (2i, 2i+1), on the last dim, per head."""
    shape = x.shape
    return x.reshape(*shape[:-1], -1, 2, d // 2).transpose(-1, -2).reshape(shape)


def main():
    out, case = sys.argv[1], json.loads(sys.argv[2])
    c = case['config']
    tp, seed = case['tp'], case['seed']
    src_dt = TORCH[case['src_dtype']]
    wt = {'float16': torch.float16, 'bfloat16': torch.bfloat16}[case['weight_type']]
    g = torch.Generator().manual_seed(seed)
    h, inter, vocab = c['hidden_size'], c['intermediate_size'], c['vocab_size']
    nh, nkv, nl = c['num_attention_heads'], c['num_key_value_heads'], c['num_hidden_layers']
    d = h // nh
    fam = case['family']

    def rnd(*shape):
        return (torch.randn(*shape, generator=g) * 0.3).to(src_dt)

    hf = {}
    emb_key = 'model.tok_embeddings.weight' if fam == 'internlm2' else 'model.embed_tokens.weight'
    hf[emb_key] = rnd(vocab, h)
    hf['model.norm.weight'] = rnd(h)
    tied = c.get('tie_word_embeddings', False)
    if not tied:
        hf['output.weight' if fam == 'internlm2' else 'lm_head.weight'] = rnd(vocab, h)
    hf['model.rotary_emb.inv_freq'] = rnd(d // 2)  # not converted: must be reported unused
    exp = {}
    pad_v = -(-vocab // tp) * tp
    pad_i = -(-inter // tp) * tp

    def put(name, t):
        exp[name] = raw(t.to(wt))

    emb = torch.nn.functional.pad(hf[emb_key].float(), (0, 0, 0, pad_v - vocab))
    for r, part in enumerate(emb.chunk(tp, dim=1)):
        put(f'tok_embeddings.{r}.weight', part)
    lm = hf[emb_key if tied else ('output.weight' if fam == 'internlm2' else 'lm_head.weight')].float()
    lm = torch.nn.functional.pad(lm, (0, 0, 0, pad_v - vocab)).t()
    for r, part in enumerate(lm.chunk(tp, dim=1)):
        put(f'output.{r}.weight', part)
    put('norm.weight', hf['model.norm.weight'].float())

    rep = tp // nkv if (tp > nkv and tp % nkv == 0) else 1
    for i in range(nl):
        p = f'model.layers.{i}.'
        if fam == 'internlm2':
            wqkv = rnd((nh + 2 * nkv) * d, h)
            hf[p + 'attention.wqkv.weight'] = wqkv
            grp = wqkv.float().reshape(nkv, nh // nkv + 2, d, h)
            q = grp[:, :nh // nkv].reshape(nh * d, h)
            k = grp[:, -2].reshape(nkv * d, h)
            v = grp[:, -1].reshape(nkv * d, h)
            hf[p + 'attention.wo.weight'] = o = rnd(h, nh * d)
            names = ('feed_forward.w1.weight', 'feed_forward.w3.weight', 'feed_forward.w2.weight',
                     'attention_norm.weight', 'ffn_norm.weight')
        else:
            q, k, v = rnd(nh * d, h), rnd(nkv * d, h), rnd(nkv * d, h)
            hf[p + 'self_attn.q_proj.weight'], hf[p + 'self_attn.k_proj.weight'], hf[p + 'self_attn.v_proj.weight'] = q, k, v
            hf[p + 'self_attn.o_proj.weight'] = o = rnd(h, nh * d)
            names = ('mlp.gate_proj.weight', 'mlp.up_proj.weight', 'mlp.down_proj.weight',
                     'input_layernorm.weight', 'post_attention_layernorm.weight')
            q, k, v = q.float(), k.float(), v.float()
        w1, w3, w2 = rnd(inter, h), rnd(inter, h), rnd(h, inter)
        n1, n2 = rnd(h), rnd(h)
        for n, t in zip(names, (w1, w3, w2, n1, n2)):
            hf[p + n] = t
        put(f'layers.{i}.attention_norm.weight', n1.float())
        put(f'layers.{i}.ffn_norm.weight', n2.float())

        def heads_repeat(x):  # [nkv*d, ...] -> each head n times in place
            return x.reshape(nkv, 1, d, *x.shape[1:]).expand(nkv, rep, d, *x.shape[1:]).reshape(nkv * rep * d, *x.shape[1:])

        def qkv_files(qq, kk, vv, suffix):
            # features on dim 0 here; rotary on q, k; rank r gets [q_r k_r v_r]
            qq = rotary(qq.t(), d).t() if qq.dim() == 2 else rotary(qq, d)
            kk = heads_repeat(kk)
            vv = heads_repeat(vv)
            kk = rotary(kk.t(), d).t() if kk.dim() == 2 else rotary(kk, d)
            for r, (a, b, cc) in enumerate(zip(qq.chunk(tp, 0), kk.chunk(tp, 0), vv.chunk(tp, 0))):
                merged = torch.cat([a, b, cc], 0)
                put(f'layers.{i}.attention.w_qkv.{r}.{suffix}', merged.t() if merged.dim() == 2 else merged)

        qkv_files(q, k, v, 'weight')
        for r, part in enumerate(o.float().t().chunk(tp, 0)):
            put(f'layers.{i}.attention.wo.{r}.weight', part)
        if fam == 'qwen2':
            qb, kb, vb = rnd(nh * d), rnd(nkv * d), rnd(nkv * d)
            hf[p + 'self_attn.q_proj.bias'], hf[p + 'self_attn.k_proj.bias'], hf[p + 'self_attn.v_proj.bias'] = qb, kb, vb
            qkv_files(qb.float(), kb.float(), vb.float(), 'bias')
            for r in range(tp):
                put(f'layers.{i}.attention.wo.{r}.bias', torch.zeros(h if rep > 1 else nh * d))
        for nm, w in (('w1', w1), ('w3', w3)):
            wt_ = torch.nn.functional.pad(w.float().t(), (0, pad_i - inter))
            for r, part in enumerate(wt_.chunk(tp, 1)):
                put(f'layers.{i}.feed_forward.{nm}.{r}.weight', part)
        w2t = torch.nn.functional.pad(w2.float().t(), (0, 0, 0, pad_i - inter))
        for r, part in enumerate(w2t.chunk(tp, 0)):
            put(f'layers.{i}.feed_forward.w2.{r}.weight', part)

    os.makedirs(os.path.join(out, 'hf'), exist_ok=True)
    os.makedirs(os.path.join(out, 'expected'), exist_ok=True)
    with open(os.path.join(out, 'hf', 'config.json'), 'w') as f:
        json.dump(c, f)
    save_safetensors(os.path.join(out, 'hf', 'model.safetensors'), hf)
    for name, b in exp.items():
        with open(os.path.join(out, 'expected', name), 'wb') as f:
            f.write(b)


if __name__ == '__main__':
    main()
