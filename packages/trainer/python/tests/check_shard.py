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
print(json.dumps(out))
