"""Llama-family decoder (llama, mistral, qwen2 with qkv bias, internlm2 with packed wqkv, InternLM v1
with q/k/v/o bias and its `rotary` options) built from an HF config.json; state dicts load from and
save to the HF key names of the model's own family."""
import json
import os
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import attention, flex_block_mask
from .loss import linear_cross_entropy


@dataclass
class ModelConfig:
    model_type: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    tie_word_embeddings: bool = False
    qkv_bias: bool = False
    head_dim: int = 0
    o_bias: bool = False
    # InternLM v1's `rotary.type` / InternLM2's `rope_scaling.type`: 'dynamic' rescales the base (NTK)
    # for sequences longer than max_position_embeddings; 'linear' (InternLM2) divides positions by the
    # factor; 'origin' (and every other family) does neither.
    rotary_type: str = 'origin'
    rotary_scaling: float = 1.0
    max_position_embeddings: int = 0

    @staticmethod
    def from_hf(cfg):
        mt = cfg.get('model_type', 'llama')
        if mt not in ('llama', 'mistral', 'qwen2', 'internlm2', 'internlm'):
            raise ValueError(f'model_type {mt!r} is not supported (llama, mistral, qwen2, internlm2, internlm)')
        heads = cfg['num_attention_heads']
        if mt == 'internlm':
            return ModelConfig._from_internlm(cfg)
        rotary_type, rotary_scaling = 'origin', 1.0
        if mt == 'internlm2' and cfg.get('rope_scaling'):
            # modeling_internlm2.py's _init_rope: {type: dynamic|linear, factor} (what internlm-to-hf writes)
            rs = cfg['rope_scaling']
            if rs.get('type') not in ('dynamic', 'linear'):
                raise ValueError(f"rope_scaling.type {rs.get('type')!r} is not supported (dynamic, linear: what modeling_internlm2.py knows)")
            rotary_type, rotary_scaling = rs['type'], float(rs['factor'])
        return ModelConfig(
            model_type=mt, vocab_size=cfg['vocab_size'], hidden_size=cfg['hidden_size'],
            intermediate_size=cfg['intermediate_size'], num_hidden_layers=cfg['num_hidden_layers'],
            num_attention_heads=heads, num_key_value_heads=cfg.get('num_key_value_heads') or heads,
            rms_norm_eps=cfg.get('rms_norm_eps', 1e-6), rope_theta=cfg.get('rope_theta', 10000.0),
            tie_word_embeddings=cfg.get('tie_word_embeddings', False),
            qkv_bias=mt == 'qwen2' or bool(cfg.get('attention_bias', False)) or (mt == 'internlm2' and bool(cfg.get('bias', False))),
            head_dim=cfg.get('head_dim') or cfg['hidden_size'] // heads, rotary_type=rotary_type, rotary_scaling=rotary_scaling,
            max_position_embeddings=int(cfg.get('max_position_embeddings', 2048)))

    @staticmethod
    def _from_internlm(cfg):
        """InternLM v1 (HF remote code `modeling_internlm.py`): one `bias` switch for q/k/v/o (default
        on), no GQA, and a `rotary` dict {type: origin|dynamic, base, scaling_factor}; an absent dict
        means what the newest configuration_internlm.py defaults to, dynamic with base 10000."""
        rot = cfg.get('rotary') or {'type': 'dynamic', 'base': 10000}
        if rot.get('type', 'dynamic') not in ('origin', 'dynamic'):
            raise ValueError(f"rotary.type {rot.get('type')!r} is not supported (origin, dynamic: what modeling_internlm.py knows)")
        heads, bias = cfg['num_attention_heads'], bool(cfg.get('bias', True))
        return ModelConfig(
            model_type='internlm', vocab_size=cfg['vocab_size'], hidden_size=cfg['hidden_size'],
            intermediate_size=cfg['intermediate_size'], num_hidden_layers=cfg['num_hidden_layers'],
            num_attention_heads=heads, num_key_value_heads=heads, rms_norm_eps=cfg.get('rms_norm_eps', 1e-6),
            rope_theta=float(rot.get('base', 10000)), tie_word_embeddings=cfg.get('tie_word_embeddings', False),
            qkv_bias=bias, o_bias=bias, head_dim=cfg['hidden_size'] // heads,
            rotary_type=rot.get('type', 'dynamic'), rotary_scaling=float(rot.get('scaling_factor', 1.0)),
            max_position_embeddings=int(cfg.get('max_position_embeddings', 2048)))

    @staticmethod
    def from_folder(folder):
        with open(os.path.join(folder, 'config.json')) as f:
            return ModelConfig.from_hf(json.load(f))


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


def rope(x, cos, sin):
    """Rotate-half rotary embedding (the HF llama layout); x: [T, H, D], cos/sin: [T, D]."""
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos[:, None, :] + rotated * sin[:, None, :]


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        d = c.head_dim
        self.q_proj = nn.Linear(c.hidden_size, c.num_attention_heads * d, bias=c.qkv_bias)
        self.k_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * d, bias=c.qkv_bias)
        self.v_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * d, bias=c.qkv_bias)
        self.o_proj = nn.Linear(c.num_attention_heads * d, c.hidden_size, bias=c.o_bias)

    def qkv(self, x, cos, sin):
        """Projections and rotary embedding: fixed shapes, so `train.py` may compile this part."""
        t, d = x.shape[0], self.c.head_dim
        v = self.v_proj(x).view(t, -1, d)
        # Under autocast v is bf16 while the rotation ran in fp32: flash kernels want one dtype.
        q = rope(self.q_proj(x).view(t, -1, d), cos, sin).to(v.dtype)
        k = rope(self.k_proj(x).view(t, -1, d), cos, sin).to(v.dtype)
        return q, k, v

    def forward(self, x, cos, sin, cu_seqlens, max_seqlen, impl, block_mask=None):
        q, k, v = self.qkv(x, cos, sin)
        return self.o_proj(attention(q, k, v, cu_seqlens, max_seqlen, impl, block_mask).reshape(x.shape[0], -1))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, cu_seqlens, max_seqlen, impl, block_mask=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, cu_seqlens, max_seqlen, impl, block_mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Decoder(nn.Module):
    """Tokens [T] (all packs of a micro batch end to end) -> logits [T, vocab]."""

    def __init__(self, c, attn_impl='math'):
        super().__init__()
        self.c = c
        self.attn_impl = attn_impl
        # Speed knobs that train.py sets on GPU (the defaults are the plain, any-device path):
        self.ce_chunk = 0  # > 0: cross-entropy through loss.linear_cross_entropy, this many tokens at a time
        self.max_seqlen_bound = False  # True: pass the micro batch length as varlen's max_seqlen (an upper
        # bound, so a compiled block sees one constant instead of a new int every batch)
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList(Block(c) for _ in range(c.num_hidden_layers))
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.lm_head = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        if c.tie_word_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        inv = 1.0 / (c.rope_theta ** (torch.arange(0, c.head_dim, 2, dtype=torch.float32) / c.head_dim))
        self.register_buffer('inv_freq', inv, persistent=False)

    def init_weights(self, seed, std=0.02):
        """Random init (normal(0, std) linears/embeddings, ones for norms), reproducible from `seed`."""
        g = None
        for name, p in self.named_parameters():
            if g is None:
                g = torch.Generator(device=p.device).manual_seed(seed)
            with torch.no_grad():
                if name.endswith('norm.weight'):
                    p.fill_(1.0)
                elif name.endswith('.bias'):
                    p.zero_()
                else:
                    p.copy_(torch.randn(p.shape, generator=g, device=p.device) * std)

    def forward(self, input_ids, position_ids, cu_seqlens, max_seqlen, target=None):
        """Logits [T, vocab]; or, given `target` (-100 = no loss), the summed cross-entropy."""
        freqs = position_ids.float()[:, None] * self.rotary_inv_freq(max_seqlen)[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        x = self.embed_tokens(input_ids)
        cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
        # Once per micro batch, shared by all layers: flex's block mask; varlen's length bound.
        block_mask = flex_block_mask(cu_seqlens, input_ids.shape[0]) if self.attn_impl == 'flex' else None
        if self.max_seqlen_bound:
            max_seqlen = int(input_ids.shape[0])
        for layer in self.layers:
            x = layer(x, cos, sin, cu_seqlens, max_seqlen, self.attn_impl, block_mask)
        if target is None:
            return self.lm_head(self.norm(x))
        return self.loss_sum(x, target)

    def rotary_inv_freq(self, seq_len):
        """InternLM v1 'dynamic': past max_position_embeddings the base grows as modeling_internlm.py's
        DynamicNTK embedding does, base * (s * L / max_pos - (s - 1)) ** (d / (d - 2)). L is the longest
        document of the micro batch (xtuner's varlen forward passes that max_seqlen; a lone sequence's
        length in generation), so a pack of short documents keeps the plain base."""
        c = self.c
        if c.rotary_type == 'linear':  # positions / factor, as InternLM2's linear scaling
            return self.inv_freq / c.rotary_scaling
        if c.rotary_type != 'dynamic' or int(seq_len) <= c.max_position_embeddings:
            return self.inv_freq
        d, s = c.head_dim, c.rotary_scaling
        base = c.rope_theta * ((s * int(seq_len) / c.max_position_embeddings) - (s - 1)) ** (d / (d - 2))
        return 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.float32, device=self.inv_freq.device) / d))

    def loss_sum(self, x, target):
        """Final norm, head and cross-entropy in one place (one compiled region on GPU)."""
        if self.ce_chunk > 0:
            return linear_cross_entropy(self.norm(x), self.lm_head.weight, target, self.ce_chunk)
        logits = self.lm_head(self.norm(x))
        return F.cross_entropy(logits.float(), target, ignore_index=-100, reduction='sum')

    def num_params(self, embeddings=True):
        n = sum(p.numel() for p in self.parameters())
        return n if embeddings else n - self.embed_tokens.weight.numel()


# ---- HF key names -------------------------------------------------------------------------------

def _internlm2_key(k):
    k = k.replace('embed_tokens', 'tok_embeddings').replace('self_attn.o_proj', 'attention.wo')
    k = k.replace('mlp.gate_proj', 'feed_forward.w1').replace('mlp.up_proj', 'feed_forward.w3')
    k = k.replace('mlp.down_proj', 'feed_forward.w2').replace('input_layernorm', 'attention_norm')
    return k.replace('post_attention_layernorm', 'ffn_norm')


def to_hf(state, c):
    """Our state dict -> the HF checkpoint keys of `c.model_type` (what `pth-to-hf` expects)."""
    out = {}
    for k, v in state.items():
        if k == 'lm_head.weight':
            if not c.tie_word_embeddings:
                out['output.weight' if c.model_type == 'internlm2' else 'lm_head.weight'] = v
            continue
        if c.model_type != 'internlm2':
            out[f'model.{k}'] = v
            continue
        if '.self_attn.' in k and k.split('.')[-2] in ('q_proj', 'k_proj', 'v_proj'):
            if k.endswith('q_proj.weight') or k.endswith('q_proj.bias'):
                prefix, suffix = k.split('.self_attn.')[0], k.rsplit('.', 1)[1]
                q, kk, vv = (state[f'{prefix}.self_attn.{p}_proj.{suffix}'] for p in 'qkv')
                out[f'model.{prefix}.attention.wqkv.{suffix}'] = pack_wqkv(q, kk, vv, c)
            continue
        out[f'model.{_internlm2_key(k)}'] = v
    return out


def from_hf(hf, c):
    """HF checkpoint keys -> our state dict (inverse of `to_hf`). InternLM v1's dynamic rotary
    registers `rotary_emb.inv_freq` as a saved buffer, so its .bin checkpoints carry one per layer:
    derived from the config, dropped here."""
    out = {}
    for k, v in hf.items():
        if k.endswith('rotary_emb.inv_freq'):
            continue
        if k in ('lm_head.weight', 'output.weight'):
            out['lm_head.weight'] = v
            continue
        if not k.startswith('model.'):
            continue
        k = k[len('model.'):]
        if c.model_type == 'internlm2':
            if '.attention.wqkv.' in k:
                prefix, suffix = k.split('.attention.wqkv.')
                for name, t in zip('qkv', unpack_wqkv(v, c)):
                    out[f'{prefix}.self_attn.{name}_proj.{suffix}'] = t
                continue
            for ours, theirs in (('embed_tokens', 'tok_embeddings'), ('self_attn.o_proj', 'attention.wo'),
                                 ('mlp.gate_proj', 'feed_forward.w1'), ('mlp.up_proj', 'feed_forward.w3'),
                                 ('mlp.down_proj', 'feed_forward.w2'), ('post_attention_layernorm', 'ffn_norm'),
                                 ('input_layernorm', 'attention_norm')):
                k = k.replace(theirs, ours)
        out[k] = v
    if c.tie_word_embeddings:
        out['lm_head.weight'] = out['embed_tokens.weight']
    return out


def unpack_wqkv(w, c):
    """InternLM2's wqkv groups rows per KV head: [q * (heads/kv), k, v] x kv_heads."""
    g, d = c.num_attention_heads // c.num_key_value_heads, c.head_dim
    x = w.reshape(c.num_key_value_heads, g + 2, d, *w.shape[1:])
    q = x[:, :g].reshape(c.num_attention_heads * d, *w.shape[1:])
    return q, x[:, g].reshape(-1, *w.shape[1:]), x[:, g + 1].reshape(-1, *w.shape[1:])


def pack_wqkv(q, k, v, c):
    g, d = c.num_attention_heads // c.num_key_value_heads, c.head_dim
    rest = q.shape[1:]
    q = q.reshape(c.num_key_value_heads, g, d, *rest)
    k = k.reshape(c.num_key_value_heads, 1, d, *rest)
    v = v.reshape(c.num_key_value_heads, 1, d, *rest)
    return torch.cat((q, k, v), dim=1).reshape(-1, *rest)
