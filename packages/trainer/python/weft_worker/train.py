"""The training recipe, top to bottom: set up ranks, model, optimizer, feed; loop; checkpoint.

Run by `weft train` as `python -m weft_worker.train --config worker.json [--resume iter_N.pth]`,
one process per rank with RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT set, and
WEFT_FEED naming the feed. Rank 0 prints one `@weft-metrics {json}` line per step for the launcher.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.distributed as dist

from . import checkpoint, dcp, shard
from .attention import pick_impl, varlen_setup
from .data_error import DataError, check_token_ids, report
from .feed import Prefetcher, open_feed
from .loss import ce_chunk, set_chunk_fn
from .model import Decoder, ModelConfig, from_hf, to_hf
from .precision import DynamicGradScaler, MasterWeights
from .profile import HostTimes, StepProfiler
from .safetensors_io import load_folder

IGNORE_INDEX = -100


def lr_at(step, cfg):
    """Linear warmup to lr, then cosine to eta_min; `step` counts from 1."""
    total, lr, eta_min = cfg['total_steps'], cfg['lr'], cfg['eta_min']
    warm = round(cfg['warmup_ratio'] * total)
    if warm > 0 and step <= warm:
        return lr * step / warm
    progress = (step - warm) / max(1, total - warm)
    return eta_min + (lr - eta_min) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def collate(packs, device, into_one):
    """Lay the micro batch's packs end to end; targets are next tokens within the same document."""
    import numpy as np
    ids = np.concatenate([p.input_ids for p in packs])
    labels = np.concatenate([p.labels for p in packs])
    pos = np.concatenate([p.position_ids for p in packs])
    cu, off = [0], 0
    for p in packs:
        bounds = [0, len(p.input_ids)] if into_one else p.cumulative_len.tolist()
        cu.extend(off + b for b in bounds[1:])
        off += len(p.input_ids)
    if into_one:  # attention across the whole pack: positions run on too (InternLM's pack_sample_into_one)
        pos = np.concatenate([np.arange(len(p.input_ids), dtype=np.int32) for p in packs])
    target = np.full_like(labels, IGNORE_INDEX)
    target[:-1] = labels[1:]
    target[np.asarray(cu[1:], dtype=np.int64) - 1] = IGNORE_INDEX  # no prediction across a boundary
    docs = np.diff(np.asarray(cu))
    # GPU: through pinned memory, so the copies queue behind the previous step's work instead of
    # waiting for it (a copy from pageable memory, or torch.tensor(..., device=cuda), may block the host)
    pin = device.type == 'cuda'

    def t(a, dtype=np.int64):
        x = torch.from_numpy(np.ascontiguousarray(a, dtype=dtype))
        return (x.pin_memory() if pin else x).to(device, non_blocking=True)
    return {'input_ids': t(ids), 'target': t(target), 'position_ids': t(pos), 'cu_seqlens': t(cu, np.int32),
            'max_seqlen': int(docs.max()), 'docs': docs}


def cursor_after(length, world, samples):
    """The sampler cursor after `samples` positions (the TS side checks it on resume)."""
    per_epoch = length // world
    return {'epoch': samples // per_epoch, 'consumed': (samples % per_epoch) * world}


@torch.no_grad()
def validate(model, cfg, rank, world, device, autocast):
    """Mean loss over this run's validation packs (a fresh feed stream each time)."""
    stream = Prefetcher(open_feed(os.environ['WEFT_FEED'], rank, world, stream=1), depth=4, where=f'rank {rank} valid feed')
    total, n = torch.zeros(2, dtype=torch.float64, device=device), 0
    while n < cfg['valid_micro_num']:
        packs, _ = stream.take(cfg['micro_batch_size'])
        if not packs:
            break
        check_token_ids(packs, unwrap(model).c.vocab_size, f'rank {rank} validation')
        b = collate(packs, device, cfg.get('pack_sample_into_one', False))
        with torch.autocast('cuda', dtype=half_dtype(cfg)) if autocast else _null():
            total[0] += model(b['input_ids'], b['position_ids'], b['cu_seqlens'], b['max_seqlen'], target=b['target']).double()
        total[1] += (b['target'] != IGNORE_INDEX).sum()
        n += 1
    if world > 1:
        dist.all_reduce(total)
    return (total[0] / total[1].clamp(min=1)).item()


def setup_dist(shard_req):
    world = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    local = int(os.environ.get('LOCAL_RANK', '0'))
    use_cuda = torch.cuda.is_available() and os.environ.get('WEFT_DEVICE', 'auto') != 'cpu'
    device = torch.device('cuda', local) if use_cuda else torch.device('cpu')
    if use_cuda:
        torch.cuda.set_device(device)
    mode = shard.pick(shard_req, world)
    if world > 1:
        dist.init_process_group('nccl' if use_cuda else 'gloo')
    elif mode == 'fsdp2':  # one rank: a process group of one, no rendezvous needed
        dist.init_process_group('nccl' if use_cuda else 'gloo', store=dist.HashStore(), rank=0, world_size=1)
    return rank, world, device, mode


def build_model(cfg, device):
    m = cfg['model']
    if m.get('path'):
        mc = ModelConfig.from_folder(m['path'])
    else:
        mc = ModelConfig.from_hf(m['config'])
    impl = cfg.get('attn_impl') or 'auto'
    # Build straight on the GPU where PyTorch allows it (a 1B model's CPU init takes a while).
    with device if device.type == 'cuda' and hasattr(device, '__enter__') else _null():
        model = Decoder(mc, pick_impl(device) if impl == 'auto' else impl)
    if m.get('path'):
        model.load_state_dict(from_hf(load_folder(m['path']), mc), strict=True)
    else:
        model.init_weights(cfg['seed'])
    return model


def wrap(model, cfg, world, device, sharding):
    """`sharding` (shard.pick): 'fsdp2' shards over all ranks (`shard.py`: bf16 compute with fp32
    sharded master weights on GPU, fp32 on CPU); 'ddp' replicates; 'none' is one rank. One GPU
    without FSDP2: bf16 parameters with fp32 master weights (`precision.py`; `precision:
    'autocast'` keeps fp32 parameters under bf16 autocast instead). Returns (model, mode, master or None)."""
    model.to(device)
    master = None
    if device.type == 'cuda':
        precision = cfg.get('precision') or 'auto'
        ce = int(cfg.get('ce_chunk') or 0)
        model.ce_chunk = ce
        if sharding == 'none' and precision != 'autocast':
            master = MasterWeights(model, half_dtype(cfg))  # before compiling: the graphs are traced with bf16 weights
        if model.attn_impl == 'varlen':
            varlen_setup()  # import, signature and GQA probe now, not inside a compiled block
        how = cfg.get('compile')
        # true = whole blocks: fastest on the H100 benchmark (bench/RESULTS.md), 'parts' = run 2's pieces
        how = 'block' if how is True else (how or None)
        if how:
            import torch._dynamo as dynamo  # (a plain `import torch._dynamo` would make `torch` local here)
            for knob in ('recompile_limit', 'cache_size_limit'):  # one graph per layer must fit
                if hasattr(dynamo.config, knob):
                    setattr(dynamo.config, knob, max(64, getattr(dynamo.config, knob)))
        if how == 'block':
            # Each whole decoder block is one graph, attention included: varlen_attn is a custom op
            # that torch.compile traces through, and flex_attention is compile-native. Passing the
            # micro batch length as max_seqlen (an upper bound) keeps that argument constant;
            # cu_seqlens' length still changes, which dynamo handles as a dynamic dimension.
            model.max_seqlen_bound = model.attn_impl == 'varlen'
            for block in model.layers:
                block.forward = _compiled(block.forward)
        elif how:
            # Compile the fixed-shape parts (norms, MLP, projections + rotary); attention and the
            # residual adds stay eager. (Compiling methods keeps state-dict keys unchanged.)
            for block in model.layers:
                for m in (block.mlp, block.input_layernorm, block.post_attention_layernorm):
                    m.forward = _compiled(m.forward)
                block.self_attn.qkv = _compiled(block.self_attn.qkv)
        if how and ce > 0:  # the chunk loop stays in Python; each chunk's softmax/gradient is fused
            model.norm.forward = _compiled(model.norm.forward)
            set_chunk_fn(_compiled(ce_chunk))
        elif how:
            model.loss_sum = _compiled(model.loss_sum)  # final norm, head and cross-entropy
        if master is not None:
            return model, 'fp16' if half_dtype(cfg) == torch.float16 else 'bf16', master
        if sharding == 'fsdp2':
            return shard.apply_fsdp2(model, world, device, half_dtype(cfg), cfg.get('fsdp_unit_blocks')), 'fsdp2', None
        if sharding == 'ddp':
            return torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index]), 'ddp+autocast', None
        return model, 'autocast', None
    if sharding == 'fsdp2':
        return shard.apply_fsdp2(model, world, device, blocks_per_unit=cfg.get('fsdp_unit_blocks')), 'fsdp2', None
    if sharding == 'ddp':
        return torch.nn.parallel.DistributedDataParallel(model), 'ddp', None
    return model, 'single', None


def half_dtype(cfg):
    """The GPU compute dtype: `dtype: 'fp16'` (InternLM's model.dtype torch.float16) or bf16."""
    return torch.float16 if cfg.get('dtype') == 'fp16' else torch.bfloat16


def make_scaler(cfg):
    """fp16 only: the dynamic loss scale (`grad_scaler` fields, InternLM's names). On CPU the compute
    stays fp32 (PyTorch 1.13 has no fp16 CPU autocast) and the scale, skip and backoff logic runs as on GPU."""
    if cfg.get('dtype') != 'fp16':
        return None
    return DynamicGradScaler(**(cfg.get('grad_scaler') or {}))


def make_optimizer(params, cfg, device, mode='single'):
    """AdamW; on GPU the fused kernel (also over FSDP2's sharded DTensor parameters where this
    PyTorch supports it, else its default foreach kernel). FSDP2 steps it on the local shards
    (shard.LocalShardStep; WEFT_FSDP_LOCAL_OPTIM=0 keeps the DTensor step, for benchmarks)."""
    kw = dict(lr=cfg['lr'], betas=tuple(cfg['betas']), weight_decay=cfg['weight_decay'], eps=cfg.get('eps', 1e-8))
    opt = None
    if device.type == 'cuda':
        try:
            opt = torch.optim.AdamW(params, fused=True, **kw)
            kw['fused'] = True
        except (RuntimeError, TypeError, ValueError) as e:
            sys.stderr.write(f'weft: fused AdamW unavailable here ({str(e)[:120]}); using the default kernel\n')
    if opt is None:
        opt = torch.optim.AdamW(params, **kw)
    if mode == 'fsdp2' and os.environ.get('WEFT_FSDP_LOCAL_OPTIM', '1') != '0':
        return shard.LocalShardStep(opt, lambda groups: torch.optim.AdamW(groups, **kw))
    return opt


def optimizer_of_record(optimizer):
    """The torch optimizer whose state is saved and loaded (under shard.LocalShardStep: its `optimizer`)."""
    return getattr(optimizer, 'optimizer', optimizer)


def _compiled(fn):
    """torch.compile(fn), falling back to eager (once, with a warning) if compiling fails."""
    compiled, state = torch.compile(fn), {'ok': True}

    def call(*a, **k):
        if state['ok']:
            try:
                return compiled(*a, **k)
            except Exception as e:  # a compiler gap must not stop training
                state['ok'] = False
                sys.stderr.write(f'weft: torch.compile failed ({type(e).__name__}: {str(e)[:200]}); running eager\n')
        return fn(*a, **k)
    return call


def unwrap(model):
    return model.module if hasattr(model, 'module') else model


def full_state(model, optimizer, mode, want_optim, master=None):
    """The whole state on rank 0 for a .pth checkpoint (FSDP2 runs write sharded ones: dcp.py)."""
    sd = master.state_dict() if master is not None else unwrap(model).state_dict()
    ms = {k: v.detach().cpu() for k, v in sd.items()}
    return ms, (optimizer.state_dict() if want_optim else None)


def load_full_state(model, optimizer, mode, ms, os_, master=None):
    if mode == 'fsdp2':  # a .pth from a DDP or one-GPU run: every rank holds it whole, keeps its shard
        from torch.distributed.checkpoint.state_dict import (StateDictOptions, set_model_state_dict,
                                                             set_optimizer_state_dict)
        opts = StateDictOptions(full_state_dict=True)
        set_model_state_dict(model, ms, options=opts)
        set_optimizer_state_dict(model, optimizer, os_, options=opts)
        return
    if master is not None:
        master.load_state_dict(ms)
    else:
        unwrap(model).load_state_dict(ms)
    optimizer.load_state_dict(os_)


def emit(record):
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
    sys.stdout.write('@weft-metrics ' + json.dumps(clean, separators=(',', ':')) + '\n')
    sys.stdout.flush()


def exit_with_launcher():
    """Leave when the launcher (our parent) is gone, instead of waiting forever on a peer or the feed."""
    import threading
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                sys.stderr.write('weft worker: the launcher went away; exiting\n')
                os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def main(argv=None):
    ap = argparse.ArgumentParser(description='weft training worker (started by `weft train`)')
    ap.add_argument('--config', required=True)
    ap.add_argument('--resume', default=None)
    args = ap.parse_args(argv)
    if os.environ.get('WEFT_FEED', '').startswith(('unix:', 'tcp:')):
        exit_with_launcher()
    with open(args.config) as f:
        cfg = json.load(f)

    rank, world, device, sharding = setup_dist(cfg.get('shard'))
    torch.manual_seed(cfg['seed'])
    model = build_model(cfg, device)
    mc = model.c
    flops_params = model.num_params(embeddings=False)
    model_keys = list(model.state_dict().keys())
    model, mode, master = wrap(model, cfg, world, device, sharding)
    params = master.master if master is not None else list(model.parameters())
    optimizer = make_optimizer(params, cfg, device, mode)
    start_step, consumed_tokens = 0, 0
    scaler = make_scaler(cfg)
    # Tests force an overflow: the listed steps get an inf gradient before the unscale.
    inf_steps = {int(x) for x in os.environ.get('WEFT_DEBUG_INF_GRAD_STEPS', '').split(',') if x}
    if args.resume and checkpoint.is_sharded(args.resume):
        ts = checkpoint.load_trainer_state(args.resume)
        if mode != 'fsdp2':
            raise SystemExit(f'{args.resume}: a sharded (FSDP2) checkpoint needs shard: fsdp2 (PyTorch >= 2.4); this run uses '
                             f'{mode} on torch {torch.__version__}. Or convert it (weft convert pth-to-hf) and start from the HF folder.')
        dcp.load(args.resume, model, optimizer_of_record(optimizer))  # DCP reshards: any world size
        start_step, consumed_tokens = ts['step'], ts['consumed_tokens']
        checkpoint.set_rng_state(ts['rng'])
        if scaler is not None and ts.get('grad_scaler'):
            scaler.load_state_dict(ts['grad_scaler'])
    elif args.resume:
        ms, os_, ts = checkpoint.load(args.resume)
        if ts['world_size'] != world and mode != 'fsdp2':
            raise SystemExit(f'{args.resume}: saved with {ts["world_size"]} ranks, this run has {world}; '
                             'exact resume needs the same world size')
        load_full_state(model, optimizer_of_record(optimizer), mode, from_hf(ms, mc), os_, master)
        start_step, consumed_tokens = ts['step'], ts['consumed_tokens']
        if scaler is not None and ts.get('grad_scaler'):
            scaler.load_state_dict(ts['grad_scaler'])
        checkpoint.set_rng_state(ts['rng'])

    micro, accum = cfg['micro_batch_size'], cfg['accumulative_counts']
    feed = Prefetcher(open_feed(os.environ['WEFT_FEED'], rank, world), depth=2 * micro * accum,
                      where=f'rank {rank} feed')
    autocast = mode in ('autocast', 'ddp+autocast')
    crash_after = int(os.environ.get('WEFT_DEBUG_CRASH_AFTER_STEP', '0'))
    step = start_step
    if rank == 0:
        emit({'event': 'start', 'mode': mode, 'attn': unwrap(model).attn_impl if hasattr(unwrap(model), 'attn_impl') else '',
              'device': str(device), 'world_size': world, 'compile': cfg.get('compile'), 'ce_chunk': cfg.get('ce_chunk', 0),
              'native_gqa': varlen_setup()['native_gqa'] if device.type == 'cuda' and getattr(unwrap(model), 'attn_impl', '') == 'varlen' else None,
              'params': flops_params, 'start_step': start_step,
              **({'fsdp_unit_blocks': shard.unit_blocks(world, cfg.get('fsdp_unit_blocks')),
                  'fsdp_optim': 'local shards' if isinstance(optimizer, shard.LocalShardStep) else 'dtensor'} if mode == 'fsdp2' else {})})

    profile_step = int(os.environ.get('WEFT_PROFILE_STEP', '0'))
    # WEFT_HOST_TIMES=1: each metrics row carries the host milliseconds per region of the step (benchmarks)
    ht = HostTimes(rank == 0 and (os.environ.get('WEFT_HOST_TIMES') == '1' or profile_step > 0))
    # On GPU the host does not wait for the device between steps: it queues step N+1 while the device
    # still runs step N's backward and optimizer, and writes step N's row once step N+1 is queued.
    # Steps that save, validate or end wait as before. WEFT_STEP_SYNC=1 waits after every step (benchmarks).
    overlap = device.type == 'cuda' and os.environ.get('WEFT_STEP_SYNC') != '1'
    overlap_cpu = os.environ.get('WEFT_DEBUG_OVERLAP_CPU') == '1'  # tests: the same bookkeeping on CPU
    overlap = overlap or overlap_cpu
    pending, late_rows = None, 0
    pending_now = [None]  # the step just ended: a row written later than that step's end counts as late

    def finish(end):
        nonlocal consumed_tokens, late_rows
        late_rows += end is not pending_now[0]
        loss, tokens_all, wait_s, grad_norm, dt = end.finish()
        consumed_tokens += tokens_all
        r = end.row
        if rank == 0:
            emit({'step': r['step'], 'loss': loss, 'lr': r['lr'], 'grad_norm': grad_norm,
                  'tgs': r['tokens'] / dt, 'tflops': r['flops'] / dt / 1e12, 'num_consumed_tokens': consumed_tokens,
                  'largest_seq': max(r['lens']), 'smallest_seq': min(r['lens']), 'data_wait_s': wait_s,
                  'step_time_s': dt, 'batch_digest': r['digest'], **r['extra'],
                  'max_mem_gb': torch.cuda.max_memory_allocated() / 2**30 if device.type == 'cuda' else 0.0})

    try:
        while step < cfg['total_steps']:
            if device.type == 'cuda' and rank == 0 and step + 1 == profile_step:
                torch.cuda.synchronize()
            prof = StepProfiler(device.type == 'cuda' and rank == 0 and step + 1 == profile_step, step + 1)
            prof.__enter__()
            t0 = time.perf_counter()
            start_ev = None
            if device.type == 'cuda':
                start_ev = torch.cuda.Event(enable_timing=True)
                start_ev.record()
            ht.start(annotate=prof.prof is not None)
            ht.go('data')
            wait, tokens, loss_sum, flops, lens, digest = 0.0, 0, 0.0, 0.0, [], 0
            lr = lr_at(step + 1, cfg)
            for g in optimizer.param_groups:
                g['lr'] = lr
            batches = []
            for _ in range(accum):
                packs, w = feed.take(micro)
                wait += w
                if len(packs) < micro:
                    break
                check_token_ids(packs, mc.vocab_size, f'rank {rank}')
                batches.append(packs)
            if len(batches) < accum:
                break  # the feed ended: the sampler has no more data
            for i, packs in enumerate(batches):
                b = collate(packs, device, cfg.get('pack_sample_into_one', False))
                digest = (digest * 1000003 + sum(p.index * 7919 + p.epoch for p in packs)) % (1 << 61)
                lens.extend(int(x) for x in b['docs'])
                tokens += b['input_ids'].numel()
                flops += 6 * flops_params * b['input_ids'].numel() + 6 * mc.hidden_size * mc.num_hidden_layers * float((b['docs'].astype('float64') ** 2).sum())
                sync = i == len(batches) - 1 or mode not in ('ddp', 'ddp+autocast')
                if mode == 'fsdp2' and hasattr(model, 'set_requires_gradient_sync'):
                    model.set_requires_gradient_sync(i == len(batches) - 1)  # reduce-scatter once per step
                ctx = model.no_sync() if not sync else _null()
                ht.go('fwd')
                with ctx:
                    # Mean over this micro batch's labelled tokens (a pack may have none: prompt-only pieces).
                    n_lab = (b['target'] != IGNORE_INDEX).sum().clamp(min=1)
                    with torch.autocast('cuda', dtype=half_dtype(cfg)) if autocast else _null():
                        loss = model(b['input_ids'], b['position_ids'], b['cu_seqlens'], b['max_seqlen'], target=b['target']) / n_lab
                    ht.go('bwd')
                    (loss / accum * (scaler.scale if scaler else 1.0)).backward()
                ht.go('master')
                if master is not None:
                    master.accumulate(first=i == 0)
                loss_sum += loss.detach()
                ht.go('data')
            skipped = False
            ht.go('clip')
            if scaler is not None:
                if step + 1 in inf_steps:
                    next(p for p in params if p.grad is not None).grad.view(-1)[0] = float('inf')
                skipped = scaler.unscale_(params, True if world > 1 else None)
            if skipped:  # an overflow: no update this step (InternLM skips it too); the scale may back off
                grad_norm = float('inf')
            else:
                clip = shard.clip_grad_norm_ if mode == 'fsdp2' else torch.nn.utils.clip_grad_norm_
                grad_norm = clip(params, cfg['max_norm'] if cfg['max_norm'] > 0 else float('inf'))
                ht.go('opt')
                optimizer.step()
            ht.go('zero')
            optimizer.zero_grad(set_to_none=True)
            ht.go('master')
            if master is not None and not skipped:
                master.publish()
            ht.go('scaler')
            loss_scale = scaler.scale if scaler else None  # the scale this step ran with
            if scaler is not None:
                scaler.update(skipped)
            ht.go('sync')  # the wait for the device: this step's end, or with overlap the previous step's
            # torch.full launches a fill (torch.tensor(x, device=cuda) would copy from the host and wait for the device)
            stats = torch.stack([torch.as_tensor(loss_sum, dtype=torch.float64).to(device) / accum,
                                 torch.full((), float(tokens), dtype=torch.float64, device=device),
                                 torch.full((), float(wait), dtype=torch.float64, device=device)])
            if world > 1:
                dist.all_reduce(stats)
                stats[0] /= world
                stats[2] /= world
            if hasattr(grad_norm, 'full_tensor'):
                grad_norm = grad_norm.full_tensor()
            step += 1
            every = cfg['checkpoint_every']
            # checkpoint_every: N > 0 every N steps and at the end; 0 only at the end (config.ts says so);
            # < 0 never (benchmarks only: the TypeScript config refuses it).
            save_now = every >= 0 and (step == cfg['total_steps'] or (every > 0 and step % every == 0))
            valid_now = bool(cfg.get('valid_every')) and step % cfg['valid_every'] == 0
            crash_now = bool(crash_after) and step == crash_after
            end = StepEnd(stats, grad_norm, device, start_ev, t0,
                          {'step': step, 'lr': lr, 'tokens': tokens, 'flops': flops, 'lens': lens, 'digest': digest,
                           'extra': {'loss_scale': loss_scale, 'skipped': skipped} if scaler is not None else {}},
                          defer=overlap_cpu)
            pending_now[0] = end
            if pending is not None:
                finish(pending)  # the previous step's row: its work is done once this step's is queued behind it
            pending = end
            if not (overlap and not prof.active and not (save_now or valid_now or crash_now) and step < cfg['total_steps']):
                pending.wait()
            ht.go(None)
            if ht.on:
                end.row['extra']['host_ms'] = ht.result()
            if pending.done:
                finish(pending)
                pending = None
            prof.__exit__(None, None, None)
            if save_now:
                ts = {'step': step, 'consumed_tokens': consumed_tokens, 'world_size': world,
                      'cursor': cursor_after(cfg['dataset_length'], world, step * micro * accum),
                      'micro_batch_size': micro, 'accumulative_counts': accum, 'seed': cfg['seed'],
                      'rng': checkpoint.rng_state(),
                      **({'grad_scaler': scaler.state_dict()} if scaler is not None else {})}
                if mode == 'fsdp2':  # each rank writes its shards: nothing is gathered
                    path = os.path.join(cfg['work_dir'], f'iter_{step}.dcp')
                    os.makedirs(cfg['work_dir'], exist_ok=True)
                    dcp.save(path, model, optimizer_of_record(optimizer), cfg['save_optimizer'], dcp.hf_key_map(model_keys, to_hf, mc))
                    if rank == 0:
                        checkpoint.save_sharded(cfg['work_dir'], step, ts, cfg['save_optimizer'], cfg['max_keep_ckpts'])
                else:
                    ms, os_ = full_state(model, optimizer, mode, cfg['save_optimizer'], master)
                    path = os.path.join(cfg['work_dir'], f'iter_{step}.pth')
                    if rank == 0:
                        checkpoint.save(cfg['work_dir'], step, to_hf(ms, mc), os_, ts, cfg['max_keep_ckpts'])
                if rank == 0:
                    emit({'event': 'checkpoint', 'step': step, 'path': path})
                if world > 1:
                    dist.barrier()
            if valid_now:
                vl = validate(model, cfg, rank, world, device, autocast)
                if rank == 0:
                    emit({'event': 'valid', 'step': step, 'valid_loss': vl, 'valid_ppl': math.exp(min(vl, 50))})
            if crash_now and rank == world - 1:
                sys.stderr.write(f'rank {rank}: WEFT_DEBUG_CRASH_AFTER_STEP={crash_after}: exiting on purpose\n')
                sys.stderr.flush()
                os._exit(3)
    except BaseException:
        if pending is not None:  # a failing step: still report the one before it
            try:
                finish(pending)
            except Exception:
                pass
        raise
    if pending is not None:  # the feed ended after a step that did not wait
        finish(pending)
    if world > 1:
        dist.barrier()  # everyone is done with the feed and the checkpoints
    if rank == 0:
        emit({'event': 'end', 'step': step, **({'late_rows': late_rows} if overlap_cpu else {})})
    # Leave at once: tearing down gloo and the feed threads at interpreter exit can hang
    # (seen with torch 1.13), and there is nothing left to clean up.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class StepEnd:
    """A finished step's numbers for its metrics row: loss, tokens and data wait (summed over ranks
    already) and the gradient norm. On GPU they are copied into pinned host memory behind the step's
    work and an event is recorded after them, so reading them waits for this step only, not for
    whatever was queued since; the step time is the device time between the step's start and end
    events. On CPU everything has happened already."""

    def __init__(self, stats, grad_norm, device, start_ev, t0, row, defer=False):
        self.row, self.start_ev = row, start_ev
        self.grad_norm = None if torch.is_tensor(grad_norm) else float(grad_norm)  # inf: a skipped fp16 step
        vals = stats if self.grad_norm is not None else torch.cat([stats, grad_norm.detach().to(torch.float64).reshape(1).to(stats.device)])
        if start_ev is not None:
            self.host = torch.empty(vals.shape, dtype=vals.dtype, pin_memory=True)
            self.host.copy_(vals, non_blocking=True)
            self.end_ev = torch.cuda.Event(enable_timing=True)
            self.end_ev.record()
            self.done = False
        else:  # defer: tests of the overlapped bookkeeping on CPU (WEFT_DEBUG_OVERLAP_CPU)
            self.host, self.end_ev, self.done = vals, None, not defer
            self.dt = time.perf_counter() - t0

    def wait(self):
        if not self.done:
            if self.end_ev is not None:
                self.end_ev.synchronize()
                self.dt = self.start_ev.elapsed_time(self.end_ev) / 1e3
            self.done = True

    def finish(self):
        """(loss, tokens, data wait, grad norm, step seconds)"""
        self.wait()
        v = self.host.tolist()
        return v[0], int(v[1]), v[2], (v[3] if self.grad_norm is None else self.grad_norm), self.dt


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:  # Ctrl-C reaches every rank; the launcher reports it once
        sys.exit(130)
    except DataError as e:  # bad data: one clean line for the launcher, no traceback
        report(e)
        sys.stdout.flush()
        os._exit(2)
