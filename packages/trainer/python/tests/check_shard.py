"""Sharding choice and sharded-checkpoint bookkeeping, on whatever PyTorch runs this (1.13 on CI:
no fully_shard). Prints JSON."""
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from weft_worker import checkpoint, dcp, shard  # noqa: E402
from weft_worker.model import ModelConfig, to_hf  # noqa: E402


def pick(req, world):
    try:
        return shard.pick(req, world)
    except SystemExit as e:
        return f'error: {e}'


out = {'torch': shard.torch_version(), 'fsdp2_available': shard.fsdp2_available(),
       'pick': {f'{r}/{w}': pick(r, w) for r in ('auto', 'fsdp2', 'ddp', 'none', 'zero3') for w in (1, 2)}}

work = tempfile.mkdtemp(prefix='weft-shard-')
try:
    for step in (2, 4, 6):  # what rank 0 does after every rank has written iter_N.dcp
        os.makedirs(os.path.join(work, f'iter_{step}.dcp'))
        open(os.path.join(work, f'iter_{step}.dcp', '.metadata'), 'wb').close()
        checkpoint.save_sharded(work, step, {'step': step, 'world_size': 4}, True, max_keep=2)
    out['left'] = sorted(os.listdir(work))
    last = checkpoint.resolve('auto', work)
    out['last'] = os.path.basename(last)
    out['is_sharded'] = [checkpoint.is_sharded(last), checkpoint.is_sharded(os.path.join(work, 'iter_6.pth'))]
    out['trainer_state'] = checkpoint.load_trainer_state(last)
    out['steps'] = checkpoint.list_checkpoints(work)
finally:
    shutil.rmtree(work)

llama = ModelConfig.from_hf(dict(model_type='llama', vocab_size=8, hidden_size=4, intermediate_size=8, num_hidden_layers=1,
                                 num_attention_heads=2))
internlm2 = ModelConfig.from_hf(dict(model_type='internlm2', vocab_size=8, hidden_size=4, intermediate_size=8,
                                     num_hidden_layers=1, num_attention_heads=2))
keys = ['embed_tokens.weight', 'layers.0.self_attn.q_proj.weight', 'layers.0.self_attn.k_proj.weight',
        'layers.0.self_attn.v_proj.weight', 'norm.weight', 'lm_head.weight']
out['key_map_llama'] = dcp.hf_key_map(keys, to_hf, llama)
out['key_map_internlm2'] = dcp.hf_key_map(keys, to_hf, internlm2)
# clipping on (local) shards equals torch's clip_grad_norm_ (one rank: the shards are the tensors)
import torch  # noqa: E402
torch.manual_seed(0)
for max_norm in (0.5, 1e9, float('inf')):
    a = [torch.nn.Parameter(torch.randn(s)) for s in ((7, 3), (5,), (2, 2, 2))]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    for p, q in zip(a, b):
        p.grad = torch.randn(p.shape) * 3
        q.grad = p.grad.clone()
    n_ref = torch.nn.utils.clip_grad_norm_(a, max_norm)
    n = shard.clip_grad_norm_(b, max_norm)
    out.setdefault('clip', []).append({'max_norm': str(max_norm), 'norm_diff': abs(float(n) - float(n_ref)),
                                       'grad_diff': max(float((p.grad - q.grad).abs().max()) for p, q in zip(a, b)),
                                       'scaled': bool(float(n_ref) > max_norm)})

# FSDP2's optimizer step on local shards (shard.LocalShardStep) against torch's AdamW on whole tensors.
# (a) plain tensors (one rank: the shard is the tensor): bitwise equal, the first step is torch's own,
#     and a state dict round trip goes on stepping locally.
KW = dict(lr=1e-2, betas=(0.9, 0.95), weight_decay=0.1, eps=1e-8)
LRS = (1e-2, 5e-3, 2e-3, 1e-3)


def make(groups):
    return torch.optim.AdamW(groups, **KW)


torch.manual_seed(1)
shapes = ((7, 3), (5,), (2, 2, 2))
ref = [torch.nn.Parameter(torch.randn(s)) for s in shapes]
mine = [torch.nn.Parameter(p.detach().clone()) for p in ref]
grads = [[torch.randn(s) for s in shapes] for _ in LRS]
ref_opt = torch.optim.AdamW(ref, **KW)
opt = shard.LocalShardStep(torch.optim.AdamW(mine, **KW), make)
for step, lr in enumerate(LRS[:3]):
    for o in (ref_opt, opt):
        for g in o.param_groups:
            g['lr'] = lr
    for p, q, g in zip(ref, mine, grads[step]):
        p.grad, q.grad = g.clone(), g.clone()
    ref_opt.step()
    opt.step()
    ref_opt.zero_grad(set_to_none=True)
    opt.zero_grad(set_to_none=True)
plain = {'local_steps': opt.local_steps, 'max_diff': max(float((p - q).abs().max()) for p, q in zip(ref, mine)),
         'grads_left': [q.grad is not None for q in mine]}
again = shard.LocalShardStep(torch.optim.AdamW(mine, **KW), make)  # resume: the state comes from the record's state dict
again.load_state_dict(opt.state_dict())
for o in (ref_opt, again):
    for g in o.param_groups:
        g['lr'] = LRS[3]
for p, q, g in zip(ref, mine, grads[3]):
    p.grad, q.grad = g.clone(), g.clone()
ref_opt.step()
again.step()
plain['resumed_local_steps'] = again.local_steps
plain['resumed_max_diff'] = max(float((p - q).abs().max()) for p, q in zip(ref, mine))
out['local_step_plain'] = plain

# (b) two emulated ranks, each holding rows of every tensor (uneven: 4 + 3 and 1 + 3 rows), as DTensors keep
#     their shard in `_local_tensor`. Step 1 is torch's own (it creates the state); steps 2-3 touch only the
#     local rows, through local views of the state. The ranks' rows together equal AdamW on the whole tensors.
shapes = ((7,), (4, 3))
cut = (4, 1)
torch.manual_seed(2)
ref = [torch.nn.Parameter(torch.randn(s)) for s in shapes]
ref_opt = torch.optim.AdamW(ref, **KW)
ranks = []
for r in range(2):
    ps = [torch.nn.Parameter(p.detach().clone()) for p in ref]
    for p, c in zip(ps, cut):
        p._local_tensor = p.data[:c] if r == 0 else p.data[c:]
    ranks.append((ps, shard.LocalShardStep(torch.optim.AdamW(ps, **KW), make)))
for step, lr in enumerate(LRS[:3]):
    gs = [torch.randn(s) for s in shapes]
    for p, g in zip(ref, gs):
        p.grad = g.clone()
    for g in ref_opt.param_groups:
        g['lr'] = lr
    ref_opt.step()
    for r, (ps, o) in enumerate(ranks):
        for g in o.param_groups:
            g['lr'] = lr
        for p, g, c in zip(ps, gs, cut):
            p.grad = g.clone()
            p.grad._local_tensor = p.grad[:c] if r == 0 else p.grad[c:]
        o.step()
        o.zero_grad(set_to_none=True)
        if step == 0:  # from now on the state has shards too, as DTensor state does
            for p, c in zip(ps, cut):
                for k in ('exp_avg', 'exp_avg_sq'):
                    t = o.state[p][k]
                    t._local_tensor = t[:c] if r == 0 else t[c:]
joined = [torch.cat([ranks[0][0][i].data[:c], ranks[1][0][i].data[c:]]) for i, c in enumerate(cut)]
out['local_step_sharded'] = {'local_steps': [o.local_steps for _, o in ranks],
                             'max_diff': max(float((p - j).abs().max()) for p, j in zip(ref, joined)),
                             # rows outside a rank's shard stay where step 1 left them: only the shard is stepped
                             'others_untouched': bool(float((ranks[0][0][0].data[4:] - ref[0].data[4:]).abs().max()) > 0)}
# FSDP2 units: 4 blocks each on one rank, a unit per block on several; the override (0: the root holds everything)
os.environ.pop('WEFT_FSDP_UNIT_BLOCKS', None)
out['unit_blocks'] = [shard.unit_blocks(1), shard.unit_blocks(2), shard.unit_blocks(4, 3)]
os.environ['WEFT_FSDP_UNIT_BLOCKS'] = '0'
out['unit_blocks'].append(shard.unit_blocks(1))
os.environ['WEFT_FSDP_UNIT_BLOCKS'] = '-1'
try:
    shard.unit_blocks(2)
except SystemExit as e:
    out['unit_blocks'].append(str(e))
os.environ.pop('WEFT_FSDP_UNIT_BLOCKS')

# The benchmark's GPU idle-gap report on a hand-made profiler trace (chrome format, microseconds):
# kernels at 10-50, 80-120, 180-190 in a step window opened at 0 by the weft::fwd range. Gaps: 0-10
# (ended by a launch in fwd), 50-80 (a launch inside FSDP::pre_forward > aten::mm, in fwd), 120-180
# (a launch from the optimizer's op, in the opt range, on another thread).
from weft_worker.profile import idle_gaps  # noqa: E402
X = lambda cat, name, ts, dur, tid=1, **args: {'ph': 'X', 'cat': cat, 'name': name, 'ts': ts, 'dur': dur, 'tid': tid, 'args': args}
trace = {'traceEvents': [
    X('user_annotation', 'weft::fwd', 0, 100), X('user_annotation', 'weft::opt', 100, 100),
    X('cuda_runtime', 'cudaLaunchKernel', 5, 2, correlation=1),
    X('user_annotation', 'FSDP::pre_forward', 55, 23), X('cpu_op', 'aten::mm', 60, 15), X('cuda_runtime', 'cudaLaunchKernel', 70, 2, correlation=2),
    X('cpu_op', 'aten::_fused_adamw_', 150, 25, tid=2), X('cuda_driver', 'cuLaunchKernel', 170, 2, tid=2, correlation=3),
    X('kernel', 'k1', 10, 40, tid=7, correlation=1), X('kernel', 'k2', 80, 40, tid=7, correlation=2),
    X('gpu_memcpy', 'copy', 180, 10, tid=8, correlation=3), {'ph': 'i', 'name': 'marker', 'ts': 1}]}
out['idle'] = idle_gaps(trace)
print(json.dumps(out))
