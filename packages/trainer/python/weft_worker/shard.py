"""How the model is spread over ranks: FSDP2 (`fully_shard`), DDP, or nothing.

`--shard auto` (the default) picks FSDP2 for several ranks on a PyTorch that has it (>= 2.4),
else DDP: PyTorch 1.13 (Debian's, on CI) has no `fully_shard`, and its FSDP1 wraps parameters in
flat buffers whose checkpoints would need a second reader; DDP there keeps checkpoints plain.
FSDP2 runs on GPUs (NCCL) and on CPU ranks (gloo); with one rank it runs too (no sharding, same
code path), which is how one GPU exercises it.
"""
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


def apply_fsdp2(model, world, device, param_dtype=torch.bfloat16):
    """Shard each decoder block and then the rest (embeddings, final norm, head) over all ranks.
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
    for block in model.layers:
        fully_shard(block, reshard_after_forward=world > 1, **kw)
    fully_shard(model, reshard_after_forward=False, **kw)
    return model


@torch.no_grad()
def clip_grad_norm_(params, max_norm):
    """torch.nn.utils.clip_grad_norm_ for FSDP2's sharded gradients, done on this rank's shards:
    their squared norms are summed over the ranks with one all-reduce, then every shard is scaled.
    Same arithmetic as torch's; it skips DTensor dispatch on each of the ~200 gradients."""
    local = [g.to_local() if hasattr(g, 'to_local') else g for g in (p.grad for p in params) if g is not None]
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
