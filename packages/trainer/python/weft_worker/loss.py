"""Cross-entropy of the LM head without holding the [T, vocab] logits.

`linear_cross_entropy(h, weight, target, chunk)` equals
`F.cross_entropy((h @ weight.T).float(), target, ignore_index=-100, reduction='sum')` but works through
`chunk` tokens at a time and computes the gradients during the forward pass (the loss is a sum, so
backward only scales them). Peak extra memory is one chunk of fp32 logits instead of all of them
(8192 x 32000 fp32 = 1 GiB, plus the bf16 copy autograd would keep for backward).
"""
import torch

IGNORE_INDEX = -100


def ce_chunk(logits, target):
    """Summed cross-entropy of one chunk and d(loss)/d(logits), in fp32 internally.
    Kept separate so that `train.py` can torch.compile it into a couple of fused kernels."""
    x = logits.float()
    lse = torch.logsumexp(x, dim=-1)
    valid = target != IGNORE_INDEX
    safe = torch.where(valid, target, torch.zeros_like(target))
    picked = x.gather(1, safe[:, None])[:, 0]
    loss = ((lse - picked) * valid).sum()
    grad = torch.exp(x - lse[:, None])
    grad = grad - torch.nn.functional.one_hot(safe, x.shape[-1]).to(grad.dtype)
    grad = grad * valid[:, None].to(grad.dtype)
    return loss, grad.to(logits.dtype)


_STEP = {'fn': ce_chunk}


def set_chunk_fn(fn):
    """Replace the per-chunk kernel (train.py passes a compiled `ce_chunk` on GPU)."""
    _STEP['fn'] = fn


class _LinearCE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h, weight, target, chunk):
        w = weight.to(h.dtype)
        loss = torch.zeros((), dtype=torch.float32, device=h.device)
        grad_h = torch.empty_like(h)
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=h.device)
        for s in range(0, h.shape[0], chunk):
            hc = h[s:s + chunk]
            part, g = _STEP['fn'](hc @ w.t(), target[s:s + chunk])
            loss = loss + part
            grad_h[s:s + chunk] = g @ w
            grad_w += (g.t() @ hc).float()
        ctx.save_for_backward(grad_h, grad_w)
        ctx.weight_dtype = weight.dtype
        return loss

    @staticmethod
    def backward(ctx, grad_out):
        grad_h, grad_w = ctx.saved_tensors
        return grad_h * grad_out.to(grad_h.dtype), (grad_w * grad_out).to(ctx.weight_dtype), None, None


def linear_cross_entropy(h, weight, target, chunk=2048):
    """Summed CE of `h @ weight.T` against `target` (-100: no loss), `chunk` rows at a time.

    >>> loss = linear_cross_entropy(hidden, model.lm_head.weight, target, 2048)  # then loss.backward()
    """
    return _LinearCE.apply(h, weight, target, int(chunk))
