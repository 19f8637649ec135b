"""InternLM v1 / v2 forward written the way HF's remote-code modeling files compute it, apart from
the worker: batched [B, heads, T, d] tensors, a cos/sin table built per call for the whole length
(InternLM v1's 'dynamic' rotary rescales its base once the length passes max_position_embeddings),
an additive causal mask, softmax in fp32. Reads the HF key names straight from a state dict.

Also `make_folder`: a tiny random-init HF folder of a given model_type (config.json +
model.safetensors through the worker's writer), the fixture the trainer tests start from.

    python3 tools/reference/internlm_ref.py make <out-dir> <internlm|internlm2|llama> [seed] [config-json]
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F


def _rms(x, w, eps):
    var = x.float().pow(2).mean(-1, keepdim=True)
    return w * (x.float() * torch.rsqrt(var + eps)).to(x.dtype)


def _rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


def _cos_sin(cfg, d, seq_len):
    if cfg['model_type'] == 'internlm':
        rot = cfg.get('rotary') or {'type': 'dynamic', 'base': 10000}
        base, mp = float(rot.get('base', 10000)), cfg.get('max_position_embeddings', 2048)
        if rot.get('type', 'dynamic') == 'dynamic' and seq_len > mp:
            s = float(rot.get('scaling_factor', 1.0))
            base = base * ((s * seq_len / mp) - (s - 1)) ** (d / (d - 2))
    else:  # InternLM2: rope_scaling {type: dynamic|linear, factor} as modeling_internlm2.py's _init_rope
        base = float(cfg.get('rope_theta', 10000.0))
        rs, mp = cfg.get('rope_scaling') or {}, cfg.get('max_position_embeddings', 2048)
        if rs.get('type') == 'dynamic' and seq_len > mp:
            s = float(rs['factor'])
            base = base * ((s * seq_len / mp) - (s - 1)) ** (d / (d - 2))
    inv = 1.0 / (base ** (torch.arange(0, d, 2).float() / d))
    t = torch.arange(seq_len, dtype=torch.float32)
    if cfg['model_type'] == 'internlm2' and (cfg.get('rope_scaling') or {}).get('type') == 'linear':
        t = t / float(cfg['rope_scaling']['factor'])
    freqs = torch.einsum('i,j->ij', t, inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def _qkv(sd, p, cfg, x):
    """q, k, v as [B, heads, T, d] from the family's own key names."""
    h, d = cfg['num_attention_heads'], cfg['hidden_size'] // cfg['num_attention_heads']
    kv = cfg.get('num_key_value_heads') or h
    b, t, _ = x.shape
    if cfg['model_type'] == 'internlm2':
        w = F.linear(x, sd[f'{p}.attention.wqkv.weight'], sd.get(f'{p}.attention.wqkv.bias'))
        g = h // kv
        w = w.view(b, t, kv, g + 2, d)
        q = w[:, :, :, :g].reshape(b, t, h, d)
        k, v = w[:, :, :, g], w[:, :, :, g + 1]
    else:
        lin = lambda n: F.linear(x, sd[f'{p}.self_attn.{n}.weight'], sd.get(f'{p}.self_attn.{n}.bias'))
        q, k, v = lin('q_proj').view(b, t, h, d), lin('k_proj').view(b, t, kv, d), lin('v_proj').view(b, t, kv, d)
    return q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)


def forward(sd, cfg, ids):
    """Logits [T, vocab] of one sequence `ids` (1-D LongTensor), fp32."""
    v2 = cfg['model_type'] == 'internlm2'
    pre = 'model.'
    emb = sd[pre + ('tok_embeddings.weight' if v2 else 'embed_tokens.weight')]
    eps = cfg.get('rms_norm_eps', 1e-6)
    h = cfg['num_attention_heads']
    d = cfg['hidden_size'] // h
    kv = cfg.get('num_key_value_heads') or h
    x = emb[ids][None]
    t = ids.shape[0]
    cos, sin = _cos_sin(cfg, d, t)
    mask = torch.full((t, t), float('-inf')).triu(1)
    for i in range(cfg['num_hidden_layers']):
        p = f'{pre}layers.{i}'
        norm1 = sd[f'{p}.attention_norm.weight' if v2 else f'{p}.input_layernorm.weight']
        q, k, v = _qkv(sd, p, cfg, _rms(x, norm1, eps))
        q, k = q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin
        k, v = k.repeat_interleave(h // kv, dim=1), v.repeat_interleave(h // kv, dim=1)
        att = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(d) + mask, dim=-1, dtype=torch.float32)
        o = (att @ v).transpose(1, 2).reshape(1, t, h * d)
        if v2:
            o = F.linear(o, sd[f'{p}.attention.wo.weight'], sd.get(f'{p}.attention.wo.bias'))
        else:
            o = F.linear(o, sd[f'{p}.self_attn.o_proj.weight'], sd.get(f'{p}.self_attn.o_proj.bias'))
        x = x + o
        norm2 = sd[f'{p}.ffn_norm.weight' if v2 else f'{p}.post_attention_layernorm.weight']
        y = _rms(x, norm2, eps)
        if v2:
            gate, up, down = (sd[f'{p}.feed_forward.{n}.weight'] for n in ('w1', 'w3', 'w2'))
        else:
            gate, up, down = (sd[f'{p}.mlp.{n}_proj.weight'] for n in ('gate', 'up', 'down'))
        x = x + F.linear(F.silu(F.linear(y, gate)) * F.linear(y, up), down)
    x = _rms(x, sd[pre + 'norm.weight'], eps)
    head = sd.get('output.weight' if v2 else 'lm_head.weight')
    if head is None:
        head = emb
    return F.linear(x, head)[0]


TINY = {
    'internlm': dict(model_type='internlm', architectures=['InternLMForCausalLM'], vocab_size=512, hidden_size=32,
                     intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=64,
                     rms_norm_eps=1e-6, bias=True, rotary={'type': 'dynamic', 'base': 10000, 'scaling_factor': 2.0},
                     tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=0),
    'internlm2': dict(model_type='internlm2', architectures=['InternLM2ForCausalLM'], vocab_size=512, hidden_size=32,
                      intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=1000000, bias=False,
                      tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=0),
}


def make_folder(out, model_type, seed=0, overrides=None):
    """Random weights of every HF key of `model_type` (biases and norms too, so a dropped bias shows)."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'packages', 'trainer', 'python'))
    from weft_worker.model import Decoder, ModelConfig, to_hf
    from weft_worker.safetensors_io import save_file
    cfg = dict(TINY[model_type])
    cfg.update(overrides or {})
    c = ModelConfig.from_hf(cfg)
    g = torch.Generator().manual_seed(seed)
    m = Decoder(c)
    sd = {k: (1.0 + 0.1 * torch.randn(v.shape, generator=g)) if 'norm' in k else 0.05 * torch.randn(v.shape, generator=g)
          for k, v in m.state_dict().items()}
    os.makedirs(out, exist_ok=True)
    save_file(to_hf(sd, c), os.path.join(out, 'model.safetensors'))
    with open(os.path.join(out, 'config.json'), 'w') as f:
        json.dump(cfg, f, indent=1)
    return cfg


if __name__ == '__main__':
    if len(sys.argv) >= 4 and sys.argv[1] == 'make':
        make_folder(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0,
                    json.loads(sys.argv[5]) if len(sys.argv) > 5 else None)
    else:
        sys.exit(__doc__)
