"""Document-masked causal attention over a flattened packed batch.

Tokens of all packs in a micro batch are laid end to end ([T, heads, head_dim]); `cu_seqlens`
holds every document boundary, so a token attends only to earlier tokens of its own document.
Three kernels, same answer:
  - `varlen`: torch.nn.attention.varlen.varlen_attn (flash attention, GPU, PyTorch >= 2.10)
  - `flex`:   FlexAttention with a document mask (GPU, PyTorch >= 2.5)
  - `math`:   an explicit block-diagonal causal mask (any device; Debian's torch 1.13 has no SDPA)
"""
import inspect
import math

import torch


def pick_impl(device):
    """The fastest kernel this PyTorch offers on `device`."""
    if device.type == 'cuda':
        try:
            from torch.nn.attention.varlen import varlen_attn  # noqa: F401
            return 'varlen'
        except ImportError:
            pass
        try:
            from torch.nn.attention.flex_attention import flex_attention  # noqa: F401
            return 'flex'
        except ImportError:
            pass
    return 'math'


def doc_ids(cu_seqlens, total):
    """Document index of every token: [0,0,0,1,1,2,...]."""
    pos = torch.arange(total, device=cu_seqlens.device)
    return torch.searchsorted(cu_seqlens[1:].contiguous(), pos, right=True)


def _repeat_kv(x, groups):
    return x if groups == 1 else x.repeat_interleave(groups, dim=1)


def math_attention(q, k, v, cu_seqlens):
    """Block-diagonal causal attention written out: softmax(QK^T/sqrt(d) + mask) V."""
    t, hq, d = q.shape
    k = _repeat_kv(k, hq // k.shape[1])
    v = _repeat_kv(v, hq // v.shape[1])
    doc = doc_ids(cu_seqlens, t)
    pos = torch.arange(t, device=q.device)
    allowed = (doc[:, None] == doc[None, :]) & (pos[None, :] <= pos[:, None])
    scores = torch.einsum('qhd,khd->hqk', q.float(), k.float()) / math.sqrt(d)
    scores = scores.masked_fill(~allowed, float('-inf'))
    probs = torch.softmax(scores, dim=-1)
    return torch.einsum('hqk,khd->qhd', probs, v.float()).to(q.dtype)


_VARLEN_PARAMS = None


def varlen_attention(q, k, v, cu_seqlens, max_seqlen):
    """Flash-attention varlen kernel; adapts to the signature of this PyTorch's varlen_attn."""
    global _VARLEN_PARAMS
    from torch.nn.attention.varlen import varlen_attn
    if _VARLEN_PARAMS is None:
        _VARLEN_PARAMS = set(inspect.signature(varlen_attn).parameters)
    kw = {}
    if 'is_causal' in _VARLEN_PARAMS:
        kw['is_causal'] = True
    else:  # newer releases express causality as a (left, right) window: (-1, 0)
        kw['window_size'] = (-1, 0)
    groups = q.shape[1] // k.shape[1]
    if groups > 1:
        if 'enable_gqa' in _VARLEN_PARAMS:
            kw['enable_gqa'] = True
        else:
            k, v = _repeat_kv(k, groups), _repeat_kv(v, groups)
    cu = cu_seqlens.to(torch.int32)
    return varlen_attn(q, k, v, cu, cu, max_seqlen, max_seqlen, **kw)


_FLEX = {}


def flex_attention_docs(q, k, v, cu_seqlens):
    """FlexAttention with a document-causal block mask (compiled once per process)."""
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    if 'fn' not in _FLEX:
        _FLEX['fn'] = torch.compile(flex_attention, dynamic=False)
    t = q.shape[0]
    doc = doc_ids(cu_seqlens, t)

    def mask_mod(b, h, qi, ki):
        return (doc[qi] == doc[ki]) & (ki <= qi)

    bm = create_block_mask(mask_mod, None, None, t, t, device=q.device)
    groups = q.shape[1] // k.shape[1]
    out = _FLEX['fn'](q.transpose(0, 1)[None], k.transpose(0, 1)[None], v.transpose(0, 1)[None],
                      block_mask=bm, enable_gqa=groups > 1)
    return out[0].transpose(0, 1)


def attention(q, k, v, cu_seqlens, max_seqlen, impl):
    """q: [T, Hq, D], k/v: [T, Hkv, D] -> [T, Hq, D], causal within each document."""
    if impl == 'varlen':
        return varlen_attention(q, k, v, cu_seqlens, max_seqlen)
    if impl == 'flex':
        return flex_attention_docs(q, k, v, cu_seqlens)
    return math_attention(q, k, v, cu_seqlens)
