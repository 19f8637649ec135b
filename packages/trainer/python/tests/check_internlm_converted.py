"""InternLM training checkpoints end to end (internlm-e2e.test.ts asserts on the JSON this prints):
a folder written by `weft convert internlm-to-hf`, as the worker loads it, against the HF-style
reference forward (tools/reference/internlm_ref.py) run on the ORIGINAL unsharded weights the
fixture was split from, with a model config read from the checkpoint's own model_config.pt (not
from the converted config.json, so a wrong config.json field shows); the reference's greedy loop
for `weft generate`'s prompt; and the folder trained by the worker and written back by pth-to-hf.

    python3 check_internlm_converted.py < cases.json    (a list of {ckpt, original, hf, version, prompt_ids, gen_ids, pth, back})
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', '..', '..', 'tools', 'reference'))
import internlm_ref  # noqa: E402
from weft_worker.generate import load_model  # noqa: E402
from weft_worker.model import from_hf, to_hf  # noqa: E402
from weft_worker.safetensors_io import load_folder  # noqa: E402


def training_config(ckpt, model_type):
    """The model InternLM's trainer ran, from model_config.pt with InternLM's defaults: rotary without
    any NTK rescale (training never used one), base rope_base (10000 when absent)."""
    mc = torch.load(os.path.join(ckpt, 'model_config.pt'))
    cfg = dict(model_type=model_type, hidden_size=mc['hidden_size'], num_attention_heads=mc['num_attention_heads'],
               num_key_value_heads=mc.get('num_kv_attention_heads', mc['num_attention_heads']),
               num_hidden_layers=mc['num_layers'], rms_norm_eps=mc.get('layer_norm_epsilon', 1e-6))
    base = mc.get('rope_base', 10000)
    if model_type == 'internlm':
        cfg['rotary'] = {'type': 'origin', 'base': base}
    else:
        cfg['rope_theta'] = base
    return cfg


def worker_logits(model, ids):
    t = ids.shape[0]
    return model(ids, torch.arange(t), torch.tensor([0, t], dtype=torch.int32), t)


def check(c):
    orig = {k: v.float() for k, v in torch.load(c['original']).items()}
    cfg = training_config(c['ckpt'], c['version'])
    model = load_model(c['hf'], 'cpu', 'fp32')
    out = {}
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for t in (1, 48):
            ids = torch.randint(0, model.c.vocab_size, (t,), generator=g)
            out[f'logits_diff_T{t}'] = (worker_logits(model, ids) - internlm_ref.forward(orig, cfg, ids)).abs().max().item()
        # The reference's greedy loop (argmax, one token at a time) on the original weights, and how far
        # the winner led at each step (a near tie would make the comparison fragile, not wrong).
        ids, greedy, margin = list(c['prompt_ids']), [], float('inf')
        for _ in range(len(c['gen_ids'])):
            logits = internlm_ref.forward(orig, cfg, torch.tensor(ids + greedy))[-1]
            top = torch.topk(logits, 2).values
            margin = min(margin, (top[0] - top[1]).item())
            greedy.append(int(torch.argmax(logits)))
    out['ref_greedy'], out['ref_greedy_margin'] = greedy, margin
    # Worker load -> HF keys again: the converted folder's own tensors.
    hf = load_folder(c['hf'])
    back = to_hf(from_hf(hf, model.c), model.c)
    out['worker_roundtrip_equal'] = sorted(back) == sorted(hf) and all(torch.equal(back[k], hf[k]) for k in hf)
    # Trained, then pth-to-hf: the checkpoint's tensors under the converted folder's keys and config.
    a, b = load_folder(c['back']), torch.load(c['pth'])
    out['trained'] = {
        'equals_pth': sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a),
        'keys_as_converted': sorted(a) == sorted(hf),
        'shapes_as_converted': all(a[k].shape == hf[k].shape for k in hf if k in a),
        'moved': sum(not torch.equal(a[k].float(), hf[k].float()) for k in hf if k in a),
        'dtypes': sorted({str(v.dtype) for v in a.values()}),
        'config_as_converted': json.load(open(os.path.join(c['back'], 'config.json'))) == json.load(open(os.path.join(c['hf'], 'config.json'))),
    }
    trained = load_model(c['back'], 'cpu', 'fp32')
    with torch.no_grad():
        out['trained']['logits_finite'] = bool(torch.isfinite(worker_logits(trained, torch.tensor(c['prompt_ids']))).all())
    return out


def main():
    print(json.dumps([check(c) for c in json.load(sys.stdin)]))


if __name__ == '__main__':
    main()
