"""InternLM v1 / v2 checks printed as JSON (python.test.ts asserts on them): tiny random HF folders
(tools/reference/internlm_ref.py) load into the worker with strict key matching, its logits equal the
HF-style reference forward, below and past max_position_embeddings (v1's dynamic rotary), the HF
keys round-trip, and v1's saved `rotary_emb.inv_freq` buffers are accepted and dropped."""
import json
import os
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', '..', '..', 'tools', 'reference'))
import internlm_ref  # noqa: E402
from weft_worker.model import Decoder, ModelConfig, from_hf, to_hf  # noqa: E402
from weft_worker.safetensors_io import load_folder  # noqa: E402


def worker_logits(model, ids):
    t = ids.shape[0]
    return model(ids, torch.arange(t), torch.tensor([0, t], dtype=torch.int32), t)


def check(tmp, mt, overrides=None):
    folder = os.path.join(tmp, mt + json.dumps(overrides or {}, sort_keys=True).replace('"', '').replace(' ', ''))
    cfg = internlm_ref.make_folder(folder, mt, seed=5, overrides=overrides)
    c = ModelConfig.from_folder(folder)
    hf = load_folder(folder)
    m = Decoder(c, 'math')
    m.load_state_dict(from_hf(hf, c), strict=True)
    out = {'keys': sorted(hf)[:40]}
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for t in (40, 100):  # max_position_embeddings is 64
            ids = torch.randint(0, cfg['vocab_size'], (t,), generator=g)
            out[f'diff_{t}'] = (worker_logits(m, ids) - internlm_ref.forward(hf, cfg, ids)).abs().max().item()
    back = to_hf(from_hf(hf, c), c)
    out['roundtrip_equal'] = sorted(back) == sorted(hf) and all(torch.equal(back[k], hf[k]) for k in hf)
    return out, m, hf, cfg


def main():
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        res['internlm'], m, hf, cfg = check(tmp, 'internlm')
        res['internlm_origin'], *_ = check(tmp, 'internlm', {'rotary': {'type': 'origin', 'base': 5000}})
        res['internlm_nobias'], *_ = check(tmp, 'internlm', {'bias': False})
        res['internlm2'], *_ = check(tmp, 'internlm2')
        # InternLM2's rope_scaling (internlm-to-hf writes dynamic x2.0): read, not ignored.
        res['internlm2_dynamic'], m2, hf2, cfg2 = check(tmp, 'internlm2', {'rope_scaling': {'type': 'dynamic', 'factor': 2.0}})
        res['internlm2_linear'], *_ = check(tmp, 'internlm2', {'rope_scaling': {'type': 'linear', 'factor': 4.0}})
        with torch.no_grad():
            ids2 = torch.randint(0, cfg2['vocab_size'], (100,), generator=torch.Generator().manual_seed(2))
            res['internlm2_dynamic_vs_none_100'] = (worker_logits(m2, ids2) - internlm_ref.forward(hf2, dict(cfg2, rope_scaling=None), ids2)).abs().max().item()
        # The dynamic rescale matters past max_position_embeddings: origin's table there differs.
        ids = torch.randint(0, cfg['vocab_size'], (100,), generator=torch.Generator().manual_seed(2))
        origin = dict(cfg, rotary={'type': 'origin', 'base': 10000})
        with torch.no_grad():
            res['dynamic_vs_origin_100'] = (worker_logits(m, ids) - internlm_ref.forward(hf, origin, ids)).abs().max().item()
        withbuf = dict(hf, **{f'model.layers.{i}.self_attn.rotary_emb.inv_freq': torch.ones(4) for i in range(2)})
        c = ModelConfig.from_hf(cfg)
        res['inv_freq_dropped'] = sorted(from_hf(withbuf, c)) == sorted(from_hf(hf, c))
        try:
            ModelConfig.from_hf(dict(cfg, rotary={'type': 'linear', 'base': 1}))
            res['bad_rotary_error'] = ''
        except ValueError as e:
            res['bad_rotary_error'] = str(e)
        try:
            ModelConfig.from_hf(dict(cfg2, rope_scaling={'type': 'yarn', 'factor': 2.0}))
            res['bad_rope_scaling_error'] = ''
        except ValueError as e:
            res['bad_rope_scaling_error'] = str(e)
    print(json.dumps(res))


if __name__ == '__main__':
    main()
