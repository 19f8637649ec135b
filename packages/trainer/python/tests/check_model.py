"""Model-level checks printed as JSON (the vitest suite asserts on them):
  - a packed forward with document masking equals each document run through the model alone;
  - HF key mapping round-trips for llama, qwen2 (qkv bias) and internlm2 (packed wqkv), and
    internlm2's wqkv split matches InternLM's own layout written out independently;
  - safetensors save -> load gives identical tensors, and a file cut short is refused;
  - a weights-only checkpoint refuses to resume."""
import json
import os
import sys
import tempfile

import torch

from weft_worker import checkpoint
from weft_worker.model import Decoder, ModelConfig, from_hf, to_hf
from weft_worker.safetensors_io import load_file, save_file


def tiny(model_type, **kw):
    cfg = dict(model_type=model_type, vocab_size=97, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0)
    cfg.update(kw)
    return ModelConfig.from_hf(cfg)


def per_document_equivalence():
    torch.manual_seed(0)
    m = Decoder(tiny('llama'), 'math')
    m.init_weights(3, std=0.2)
    cu = [0, 7, 8, 20, 33]
    ids = torch.randint(0, 97, (33,))
    pos = torch.cat([torch.arange(e - s) for s, e in zip(cu[:-1], cu[1:])])
    packed = m(ids, pos, torch.tensor(cu, dtype=torch.int32), 13)
    alone = torch.cat([m(ids[s:e], torch.arange(e - s), torch.tensor([0, e - s], dtype=torch.int32), e - s)
                       for s, e in zip(cu[:-1], cu[1:])])
    # Without the mask (one sequence), the later documents must come out different.
    unmasked = m(ids, pos, torch.tensor([0, 33], dtype=torch.int32), 33)
    return (packed - alone).abs().max().item(), (unmasked - alone).abs().max().item()


def internlm2_reference_split(wqkv, heads, kv, d):
    """InternLM2's modeling code: rows grouped per KV head as [q x (heads/kv), k, v]."""
    groups = heads // kv
    q, k, v = [], [], []
    for h in range(kv):
        base = h * (groups + 2) * d
        for g in range(groups):
            q.append(wqkv[base + g * d: base + (g + 1) * d])
        k.append(wqkv[base + groups * d: base + (groups + 1) * d])
        v.append(wqkv[base + (groups + 1) * d: base + (groups + 2) * d])
    return torch.cat(q), torch.cat(k), torch.cat(v)


def roundtrips():
    out = {}
    for mt in ('llama', 'qwen2', 'internlm2'):
        c = tiny(mt)
        m = Decoder(c)
        m.init_weights(1)
        sd = m.state_dict()
        hf = to_hf(sd, c)
        back = from_hf(hf, c)
        out[mt] = {'keys_equal': sorted(back) == sorted(sd),
                   'max_diff': max((back[k] - sd[k]).abs().max().item() for k in sd),
                   'sample_keys': sorted(hf)[:6]}
        if mt == 'internlm2':
            w = hf['model.layers.0.attention.wqkv.weight']
            q, k, v = internlm2_reference_split(w, c.num_attention_heads, c.num_key_value_heads, c.head_dim)
            out[mt]['wqkv_matches_reference'] = bool(torch.equal(q, sd['layers.0.self_attn.q_proj.weight'])
                                                     and torch.equal(k, sd['layers.0.self_attn.k_proj.weight'])
                                                     and torch.equal(v, sd['layers.0.self_attn.v_proj.weight']))
        if mt == 'qwen2':
            out[mt]['has_qkv_bias'] = 'model.layers.0.self_attn.q_proj.bias' in hf
    return out


def safetensors_roundtrip(tmp):
    t = {'a': torch.randn(3, 4), 'b': torch.arange(5, dtype=torch.int64), 'c': torch.randn(2, 2).to(torch.bfloat16)}
    p = os.path.join(tmp, 'x.safetensors')
    save_file(t, p)
    back = load_file(p)
    same = all(torch.equal(back[k], t[k]) and back[k].dtype == t[k].dtype for k in t)
    with open(p, 'rb') as f:
        raw = f.read()
    with open(p, 'wb') as f:
        f.write(raw[:-7])
    try:
        load_file(p)
        refused = ''
    except ValueError as e:
        refused = str(e)
    return same, refused


def weights_only_refused(tmp):
    checkpoint.save(tmp, 2, {'w': torch.zeros(1)}, None, {'step': 2, 'world_size': 1}, 0)
    try:
        checkpoint.load(os.path.join(tmp, 'iter_2.pth'))
        return ''
    except ValueError as e:
        return str(e)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        diff, unmasked = per_document_equivalence()
        same, refused = safetensors_roundtrip(tmp)
        print(json.dumps({'packed_vs_alone': diff, 'unmasked_vs_alone': unmasked, 'roundtrips': roundtrips(),
                          'safetensors_same': same, 'safetensors_truncated_error': refused,
                          'weights_only_error': weights_only_refused(tmp)}))


if __name__ == '__main__':
    sys.exit(main())
