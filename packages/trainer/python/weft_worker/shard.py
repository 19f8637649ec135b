"""How the model is spread over ranks: FSDP2 (`fully_shard`), DDP, or nothing.

`--shard auto` (the default) picks FSDP2 for several ranks on a PyTorch that has it (>= 2.4),
else DDP: PyTorch 1.13 (Debian's, on CI) has no `fully_shard`, and its FSDP1 wraps parameters in
flat buffers whose checkpoints would need a second reader; DDP there keeps checkpoints plain.
FSDP2 runs on GPUs (NCCL) and on CPU ranks (gloo); with one rank it runs too (no sharding, same
code path), which is how one GPU exercises it.
"""
import os

import torch
import torch.distributed as dist

MODES = ('auto', 'fsdp2', 'ddp', 'none')


def torch_version():
    """(major, minor) of the running PyTorch ('2.11.0+cu130' -> (2, 11))."""
    parts = torch.__version__.split('+')[0].split('.')
    return int(parts[0]), int(''.join(c for c in parts[1] if c.isdigit()) or 0)


def _fsdp2_api():
    """(fully_shard, MixedPrecisionPolicy) or None. Public since 2.6; under _composable in 2.4-2.5.
    The version is checked first: on 1.13 under Python 3.11 merely importing torch.distributed.fsdp
    raises ValueError (a dataclass default that 3.11 rejects), not ImportError."""
    if torch_version() < (2, 4):
        return None
    for where in ('torch.distributed.fsdp', 'torch.distributed._composable.fsdp'):
        try:
            mod = __import__(where, fromlist=['fully_shard', 'MixedPrecisionPolicy'])
            return mod.fully_shard, mod.MixedPrecisionPolicy
        except (ImportError, AttributeError):
            continue
    return None


def fsdp2_available():
    return _fsdp2_api() is not None


def pick(requested, world):
    """The sharding to use: 'fsdp2', 'ddp' or 'none'. Raises SystemExit (one clear line) when
    FSDP2 is asked for on a PyTorch without it."""
    requested = requested or 'auto'
    if requested not in MODES:
        raise SystemExit(f'weft worker: shard must be one of {", ".join(MODES)}, got {requested!r}')
    if requested == 'fsdp2' and not fsdp2_available():
        raise SystemExit(f'weft worker: shard: fsdp2 needs PyTorch >= 2.4 (fully_shard); this is {torch.__version__}. '
                         'Use shard: ddp (or auto), or install a newer PyTorch for the workers (--python).')
    if requested == 'auto':
        if world == 1:
            return 'none'
        return 'fsdp2' if fsdp2_available() else 'ddp'
    if requested == 'ddp' and world == 1:
        return 'none'  # nothing to replicate to
    if requested == 'none' and world > 1:
        raise SystemExit(f'weft worker: shard: none cannot train on {world} ranks (each would update its own copy); '
                         'use fsdp2 or ddp')
    return requested


def unit_blocks(world, requested=None):
    """How many decoder blocks share one FSDP2 unit (one all-gather and one reduce-scatter each);
    0 = no per-block units, the root unit holds everything. Default: 4 on one rank, where nothing
    is sharded and every unit costs host time in its hooks (on the 1.1B benchmark a unit per block
    left the GPU waiting for the host in every block's forward; one root unit serialised a
    whole-model gather and reduce at the step's ends: bench/RESULTS.md); 1 on several ranks, where
    per-block units bound the memory of gathered parameters. WEFT_FSDP_UNIT_BLOCKS overrides it."""
    env = os.environ.get('WEFT_FSDP_UNIT_BLOCKS', '')
    if env != '':
        requested = int(env)
    if requested is None:
        return 4 if world == 1 else 1
    if requested < 0:
        raise SystemExit(f'weft worker: WEFT_FSDP_UNIT_BLOCKS must be >= 0 (0: one unit for the whole model), got {requested}')
    return requested


def apply_fsdp2(model, world, device, param_dtype=torch.bfloat16, blocks_per_unit=None):
    """Shard groups of decoder blocks (`unit_blocks`) and then the rest (embeddings, final norm,
    head) over all ranks.
    GPU: bf16 (or fp16: `dtype: 'fp16'`) compute, fp32 gradient reduction, fp32 sharded parameters (the master weights).
    CPU: fp32 throughout (gloo, and CPU bf16 matmuls are slow). The mesh is given explicitly:
    without it fully_shard picks CUDA whenever a GPU is visible, even for gloo CPU ranks.
    The root (embeddings, final norm, head) stays gathered after forward: backward needs it first.
    One rank: nothing is sharded, so blocks stay gathered too, and gradients are "reduced" in bf16,
    which is exact there (a sum of one) and skips an fp32 copy of every gradient."""
    fully_shard, MixedPrecisionPolicy = _fsdp2_api()
    from torch.distributed.device_mesh import init_device_mesh
    mesh = init_device_mesh(device.type, (world,))
    kw = {'mesh': mesh}
    if device.type == 'cuda':
        kw['mp_policy'] = MixedPrecisionPolicy(param_dtype=param_dtype,
                                               reduce_dtype=torch.float32 if world > 1 else param_dtype)
    k = unit_blocks(world, blocks_per_unit)
    layers = list(model.layers)
    for i in range(0, len(layers) if k > 0 else 0, max(k, 1)):
        group = layers[i:i + k]
        fully_shard(group if len(group) > 1 else group[0], reshard_after_forward=world > 1, **kw)
    fully_shard(model, reshard_after_forward=False, **kw)
    return model


def _local(t):
    """A DTensor's local shard as a plain tensor (the attribute, not `to_local()`: that is an
    autograd function call per tensor); a plain tensor as it is."""
    return getattr(t, '_local_tensor', t)


class LocalShardStep:
    """Runs a torch optimizer's step on the local shards of FSDP2's DTensor parameters.

    `optimizer` (e.g. AdamW over the model's DTensor parameters) stays the optimizer of record:
    its state dict, DCP checkpoints and the first step (which creates the state) are torch's own.
    Later steps run a second optimizer of the same class and settings over plain tensors: each
    parameter's local shard, its gradient's local shard, and local views of its state, so
    `exp_avg`, `exp_avg_sq` and `step` are updated in place in the record's own tensors. For
    element-wise optimizers (AdamW: every element's update reads only that element's parameter,
    gradient and moments) this is the same arithmetic at any world size; it skips DTensor
    dispatch (sharding propagation over ~800 tensor arguments per fused call) on the host.
    Clipping must be done before, on all ranks (`clip_grad_norm_`)."""

    def __init__(self, optimizer, make):
        self.optimizer = optimizer
        groups = [{**{k: v for k, v in g.items() if k != 'params'}, 'params': [_local(p) for p in g['params']]}
                  for g in optimizer.param_groups]
        self.shadow = make(groups)
        self.local_steps = 0  # steps taken on local shards (tests and benchmarks read it)

    @property
    def param_groups(self):  # the record's (load_state_dict replaces its list)
        return self.optimizer.param_groups

    @property
    def state(self):
        return self.optimizer.state

    def _ready(self):
        for g in self.optimizer.param_groups:
            for p in g['params']:
                if p.grad is not None and not self.optimizer.state.get(p):
                    return False  # the first step creates the state: torch's own step does it
        return True

    @torch.no_grad()
    def step(self):
        if not self._ready():
            return self.optimizer.step()
        shadow = self.shadow
        shadow.state.clear()
        used = []
        for g, sg in zip(self.optimizer.param_groups, shadow.param_groups):
            for k, v in g.items():
                if k != 'params':
                    sg[k] = v
            locals_ = []
            for p in g['params']:
                lp = _local(p)
                locals_.append(lp)
                if p.grad is None:
                    lp.grad = None
                    continue
                lp.grad = _local(p.grad)
                shadow.state[lp] = {k: _local(v) if torch.is_tensor(v) else v for k, v in self.optimizer.state[p].items()}
                used.append(lp)
            sg['params'] = locals_
        shadow.step()
        for lp in used:  # the gradient shards belong to the DTensor gradients; the state stays in the record
            lp.grad = None
        shadow.state.clear()
        self.local_steps += 1

    def zero_grad(self, set_to_none=True):
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self):
        return self.optimizer.state_dict()

    def load_state_dict(self, sd):
        self.optimizer.load_state_dict(sd)


@torch.no_grad()
def clip_grad_norm_(params, max_norm):
    """torch.nn.utils.clip_grad_norm_ for FSDP2's sharded gradients, done on this rank's shards:
    their squared norms are summed over the ranks with one all-reduce, then every shard is scaled.
    Same arithmetic as torch's; it skips DTensor dispatch on each of the ~200 gradients."""
    local = [_local(g) for g in (p.grad for p in params) if g is not None]
    if not local:
        return torch.zeros(())
    total_sq = torch.stack([n.float() for n in torch._foreach_norm(local, 2.0)]).pow(2).sum()
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(total_sq)
    total = total_sq.sqrt()
    if max_norm != float('inf'):
        coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
        torch._foreach_mul_(local, coef.to(local[0].dtype))
    return total
