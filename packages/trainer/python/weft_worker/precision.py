"""bf16 model, fp32 master weights: the usual mixed-precision recipe for one GPU.

The model's parameters are bf16, so every activation, residual add, norm and rotary runs in bf16
(autocast would keep the residual stream fp32 and re-cast each weight at every matmul). The
optimizer steps fp32 copies: after each backward the bf16 gradients are added into fp32 master
gradients (so accumulation over micro batches is fp32), clipping and AdamW run on the masters,
and the updated masters are copied back into the bf16 parameters.
"""
import torch


class MasterWeights:
    """Casts `model`'s parameters (not its buffers: rotary's inv_freq stays fp32) to `dtype` and keeps
    fp32 masters for the optimizer.

    >>> mw = MasterWeights(model)
    >>> opt = torch.optim.AdamW(mw.master, fused=True)
    >>> loss.backward(); mw.accumulate(first=True)
    >>> clip_grad_norm_(mw.master, 1.0); opt.step(); mw.publish()
    """

    def __init__(self, model, dtype=torch.bfloat16):
        self.model = model
        self.params = list(model.parameters())  # tied weights appear once
        self.master = [torch.nn.Parameter(p.detach().float().clone()) for p in self.params]
        for p in self.params:
            p.data = p.data.to(dtype)

    def accumulate(self, first):
        """Move the bf16 gradients into the fp32 master gradients (copy on the first micro batch)."""
        pairs = [(m, p.grad) for m, p in zip(self.master, self.params) if p.grad is not None]
        with torch.no_grad():
            for m, _ in pairs:
                if m.grad is None:
                    m.grad = torch.zeros_like(m)
            dst, src = [m.grad for m, _ in pairs], [g for _, g in pairs]
            try:  # one launch per group of tensors instead of one per parameter
                (torch._foreach_copy_ if first else torch._foreach_add_)(dst, src)
            except (AttributeError, RuntimeError):  # older PyTorch, or no mixed-dtype foreach
                for d, g in zip(dst, src):
                    d.copy_(g) if first else d.add_(g)
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def publish(self):
        """Copy the (just stepped) fp32 masters into the bf16 parameters."""
        try:
            torch._foreach_copy_(self.params, self.master)
        except (AttributeError, RuntimeError):
            for p, m in zip(self.params, self.master):
                p.copy_(m)

    def state_dict(self):
        """The model's state dict with fp32 master values for the parameters (for checkpoints)."""
        sd = {k: v.detach() for k, v in self.model.state_dict().items()}
        index = {id(p): m for p, m in zip(self.params, self.master)}
        for name, p in _named_params(self.model):
            sd[name] = index[id(p)].detach()
        return sd

    @torch.no_grad()
    def load_state_dict(self, sd):
        """Load fp32 values into the masters and the (bf16) model."""
        self.model.load_state_dict(sd)
        index = {id(p): m for p, m in zip(self.params, self.master)}
        for name, p in _named_params(self.model):
            index[id(p)].copy_(sd[name])


def _named_params(model):
    """Every (state-dict name, parameter), tied weights under each of their names."""
    out = []
    for mod_name, mod in model.named_modules():
        for name, p in mod._parameters.items():
            if p is not None:
                out.append((f'{mod_name}.{name}' if mod_name else name, p))
    return out
