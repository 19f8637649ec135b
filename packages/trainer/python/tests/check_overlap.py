"""Rows written one step late (the GPU's overlapped steps) carry the same numbers, in the same order
around checkpoints, validations and the end, as rows written at once. Runs the real worker twice on
CPU, once with WEFT_DEBUG_OVERLAP_CPU=1 (the overlapped bookkeeping without a GPU). Prints JSON."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.dirname(HERE)
sys.path.insert(0, WORKER)
from weft_worker.feed import encode_frame, end_frame  # noqa: E402

MODEL = dict(model_type='llama', vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
             num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64)
work = tempfile.mkdtemp(prefix='weft-overlap-')
try:
    rng = np.random.RandomState(0)
    with open(os.path.join(work, 'feed.bin'), 'wb') as f:
        for i in range(16):  # 8 steps of 2 packs: the run asks for 9, so the feed ends it
            ids = rng.randint(1, 64, size=32)
            f.write(encode_frame(ids, ids, [0, 20, 32], np.r_[np.arange(20), np.arange(12)], index=i))
        f.write(end_frame())
    out = {}
    for name, extra in (('at_once', {}), ('late', {'WEFT_DEBUG_OVERLAP_CPU': '1'})):
        cfg = dict(model={'config': MODEL}, seed=3, micro_batch_size=1, accumulative_counts=2, lr=1e-3, betas=[0.9, 0.95],
                   weight_decay=0.01, warmup_ratio=0.0, eta_min=1e-4, max_norm=1.0, total_steps=9, checkpoint_every=5,
                   max_keep_ckpts=0, save_optimizer=False, work_dir=os.path.join(work, name), valid_every=3, valid_micro_num=1,
                   dataset_length=16)
        with open(os.path.join(work, f'{name}.json'), 'w') as f:
            json.dump(cfg, f)
        env = dict(os.environ, PYTHONPATH=WORKER, WEFT_FEED='file:' + os.path.join(work, 'feed.bin'), WEFT_DEVICE='cpu',
                   RANK='0', WORLD_SIZE='1', LOCAL_RANK='0', **extra)
        p = subprocess.run([sys.executable, '-m', 'weft_worker.train', '--config', os.path.join(work, f'{name}.json')],
                           env=env, capture_output=True, text=True, timeout=120)
        rows = [json.loads(line[len('@weft-metrics '):]) for line in p.stdout.splitlines() if line.startswith('@weft-metrics ')]
        out[name] = {'code': p.returncode, 'stderr': p.stderr[-1500:] if p.returncode else '',
                     'events': [(r.get('event') or 'step', r.get('step')) for r in rows if r.get('event') != 'start'],
                     'numbers': [[r[k] for k in ('loss', 'grad_norm', 'lr', 'num_consumed_tokens', 'batch_digest', 'data_wait_s')]
                                 for r in rows if 'loss' in r],
                     'late_rows': next((r.get('late_rows') for r in rows if r.get('event') == 'end'), None)}
        for r in out[name]['numbers']:
            r[5] = r[5] >= 0  # the data wait differs run to run; only its presence counts
    print(json.dumps(out))
finally:
    shutil.rmtree(work)
