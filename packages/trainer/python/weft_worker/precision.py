"""bf16 (or fp16, with a dynamic loss scale) model, fp32 master weights: the usual mixed-precision recipe for one GPU.

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


class DynamicGradScaler:
    """fp16's dynamic loss scale, with InternLM's `grad_scaler` fields and update rule: an overflow
    (an inf/nan gradient) skips the step and counts toward `hysteresis`; once that many have been
    seen the scale is multiplied by `backoff_factor` (not below `min_scale`). `growth_interval`
    clean steps in a row multiply it by `growth_factor` (not above `max_scale`) and reset the
    overflow count.

    >>> sc = DynamicGradScaler(initial_scale=2**16)
    >>> (loss * sc.scale).backward(); found_inf = sc.unscale_(params)
    >>> if not found_inf: opt.step()
    >>> sc.update(found_inf)
    """

    def __init__(self, initial_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=1000,
                 hysteresis=2, min_scale=1.0, max_scale=2.0 ** 24):
        if not (growth_factor > 1 and 0 < backoff_factor < 1 and growth_interval >= 1 and hysteresis >= 0):
            raise ValueError('grad_scaler: need growth_factor > 1, 0 < backoff_factor < 1, growth_interval >= 1, hysteresis >= 0')
        self.scale = float(initial_scale)
        self.growth_factor, self.backoff_factor = float(growth_factor), float(backoff_factor)
        self.growth_interval, self.hysteresis = int(growth_interval), int(hysteresis)
        self.min_scale = float(min_scale) if min_scale else None
        self.max_scale = float(max_scale) if max_scale else None
        self.growth_step = 0
        self.hysteresis_step = 0

    @torch.no_grad()
    def unscale_(self, params, group=None):
        """Divide the gradients by the scale; True when any is inf/nan (on any rank of `group`)."""
        grads = [p.grad for p in params if p.grad is not None]
        inv = 1.0 / self.scale
        found = torch.zeros(1, device=grads[0].device if grads else 'cpu')
        for g in grads:
            g = g.to_local() if hasattr(g, 'to_local') else g  # FSDP2: this rank's shard; the all-reduce covers the rest
            g.mul_(inv)
            found += (~torch.isfinite(g)).any().float()  # stays on the device: one sync below
        if group is not None:
            import torch.distributed as dist
            dist.all_reduce(found, op=dist.ReduceOp.MAX, group=None if group is True else group)
        return bool(found.item() > 0)

    def update(self, overflow):
        if overflow:
            self.hysteresis_step += 1
            self.growth_step = 0
            if self.hysteresis_step >= self.hysteresis:
                self.scale *= self.backoff_factor
                if self.min_scale is not None:
                    self.scale = max(self.scale, self.min_scale)
        else:
            self.growth_step += 1
            if self.growth_step == self.growth_interval:
                self.growth_step = 0
                self.hysteresis_step = 0
                self.scale *= self.growth_factor
                if self.max_scale is not None:
                    self.scale = min(self.scale, self.max_scale)

    def state_dict(self):
        return {'scale': self.scale, 'growth_step': self.growth_step, 'hysteresis_step': self.hysteresis_step}

    def load_state_dict(self, s):
        self.scale, self.growth_step, self.hysteresis_step = float(s['scale']), int(s['growth_step']), int(s['hysteresis_step'])
