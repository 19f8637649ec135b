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


_VARLEN = {}


def varlen_setup():
    """Import varlen_attn, read its signature and probe native GQA once, outside any compiled region
    (inspect, imports and the probe inside a traced function would break the graph)."""
    if 'fn' not in _VARLEN:
        from torch.nn.attention.varlen import varlen_attn
        params = set(inspect.signature(varlen_attn).parameters)
        kw = {'is_causal': True} if 'is_causal' in params else {'window_size': (-1, 0)}  # newer: causal = window (-1, 0)
        _VARLEN.update(fn=varlen_attn, params=params, kw=kw, native_gqa='enable_gqa' in params)
        if 'enable_gqa' in params:
            kw['enable_gqa'] = True
        elif torch.cuda.is_available():
            _VARLEN['native_gqa'] = _probe_native_gqa(varlen_attn, kw)
    return _VARLEN


def _probe_native_gqa(fn, kw):
    """Flash attention itself takes fewer KV heads than query heads (it divides them); whether this
    PyTorch's varlen_attn passes them through unrepeated is checked here, forward and backward,
    against the repeated form. Saves repeating K/V 8x (and summing their gradients) in every layer."""
    try:
        g = torch.Generator(device='cuda').manual_seed(0)
        mk = lambda h: torch.randn(96, h, 64, device='cuda', dtype=torch.bfloat16, generator=g).requires_grad_(True)
        q, k, v = mk(8), mk(2), mk(2)
        cu = torch.tensor([0, 40, 96], dtype=torch.int32, device='cuda')
        do = torch.randn(96, 8, 64, device='cuda', dtype=torch.bfloat16, generator=g)
        a = fn(q, k, v, cu, cu, 56, 56, **kw)
        ga = torch.autograd.grad(a, (q, k, v), do)
        b = fn(q, _repeat_kv(k, 4), _repeat_kv(v, 4), cu, cu, 56, 56, **kw)
        gb = torch.autograd.grad(b, (q, k, v), do)
        close = lambda x, y: x.shape == y.shape and (x - y).abs().max().item() <= 2 ** -6 * y.abs().max().item() + 1e-3
        return close(a, b) and all(close(x, y) for x, y in zip(ga, gb))
    except Exception:  # any refusal: repeat K/V as before
        return False


def varlen_attention(q, k, v, cu_seqlens, max_seqlen):
    """Flash-attention varlen kernel; adapts to the signature of this PyTorch's varlen_attn."""
    setup = varlen_setup()
    groups = q.shape[1] // k.shape[1]
    if groups > 1 and not setup['native_gqa']:
        k, v = _repeat_kv(k, groups), _repeat_kv(v, groups)
    cu = cu_seqlens.to(torch.int32)
    return setup['fn'](q, k, v, cu, cu, max_seqlen, max_seqlen, **setup['kw'])


_FLEX = {}


def flex_block_mask(cu_seqlens, t):
    """The document-causal block mask of a micro batch: build it once and share it by all layers."""
    from torch.nn.attention.flex_attention import create_block_mask
    doc = doc_ids(cu_seqlens, t)

    def mask_mod(b, h, qi, ki):
        return (doc[qi] == doc[ki]) & (ki <= qi)

    return create_block_mask(mask_mod, None, None, t, t, device=cu_seqlens.device)


def flex_attention_docs(q, k, v, cu_seqlens, block_mask=None):
    """FlexAttention with a document-causal block mask (compiled once per process)."""
    from torch.nn.attention.flex_attention import flex_attention
    if 'fn' not in _FLEX:
        _FLEX['fn'] = torch.compile(flex_attention, dynamic=False)
    bm = block_mask if block_mask is not None else flex_block_mask(cu_seqlens, q.shape[0])
    groups = q.shape[1] // k.shape[1]
    out = _FLEX['fn'](q.transpose(0, 1)[None], k.transpose(0, 1)[None], v.transpose(0, 1)[None],
                      block_mask=bm, enable_gqa=groups > 1)
    return out[0].transpose(0, 1)


def attention(q, k, v, cu_seqlens, max_seqlen, impl, block_mask=None):
    """q: [T, Hq, D], k/v: [T, Hkv, D] -> [T, Hq, D], causal within each document.
    `max_seqlen` may be any upper bound of the longest document (flash only sizes its grid by it).
    `block_mask` (flex only): a prebuilt `flex_block_mask`, else one is built here."""
    if impl == 'varlen':
        return varlen_attention(q, k, v, cu_seqlens, max_seqlen)
    if impl == 'flex':
        return flex_attention_docs(q, k, v, cu_seqlens, block_mask)
    return math_attention(q, k, v, cu_seqlens)
