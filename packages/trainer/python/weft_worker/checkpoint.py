"""Checkpoints: `iter_<N>.pth` (the model's HF-keyed state dict, torch.save format: the input of
`weft convert pth-to-hf`), beside it `iter_<N>.state/` with `optimizer.pth` and
`trainer_state.json`, and `last_checkpoint` naming the newest. Every file is written to a temp name
and renamed; `last_checkpoint` moves last, so a crash mid-save never leaves a half checkpoint named."""
import base64
import json
import os
import shutil

import torch


def _atomic_save(obj, path):
    tmp = f'{path}.tmp{os.getpid()}'
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _atomic_text(text, path):
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def list_checkpoints(work_dir):
    """Steps of the complete checkpoints in work_dir, oldest first."""
    steps = []
    for name in os.listdir(work_dir) if os.path.isdir(work_dir) else []:
        if name.startswith('iter_') and name.endswith('.pth'):
            try:
                steps.append(int(name[5:-4]))
            except ValueError:
                pass
    return sorted(steps)


def save(work_dir, step, model_state, optim_state, trainer_state, max_keep):
    """Write one checkpoint (rank 0 only) and drop the oldest beyond `max_keep` (<= 0: keep all)."""
    os.makedirs(work_dir, exist_ok=True)
    state_dir = os.path.join(work_dir, f'iter_{step}.state')
    os.makedirs(state_dir, exist_ok=True)
    if optim_state is not None:
        _atomic_save(optim_state, os.path.join(state_dir, 'optimizer.pth'))
    trainer_state = dict(trainer_state, has_optimizer=optim_state is not None)
    _atomic_text(json.dumps(trainer_state, indent=1, sort_keys=True), os.path.join(state_dir, 'trainer_state.json'))
    _atomic_save(model_state, os.path.join(work_dir, f'iter_{step}.pth'))
    _atomic_text(f'iter_{step}.pth\n', os.path.join(work_dir, 'last_checkpoint'))
    if max_keep and max_keep > 0:
        # Only weft's own checkpoints rotate: an iter_N.pth without weft's iter_N.state/ beside it
        # (xtuner names its checkpoints the same way) is never removed.
        ours = [s for s in list_checkpoints(work_dir) if os.path.isfile(os.path.join(work_dir, f'iter_{s}.state', 'trainer_state.json'))]
        for old in ours[:-max_keep]:
            os.remove(os.path.join(work_dir, f'iter_{old}.pth'))
            shutil.rmtree(os.path.join(work_dir, f'iter_{old}.state'), ignore_errors=True)


def resolve(path_or_auto, work_dir):
    """`auto` -> the checkpoint `last_checkpoint` names (None if there is none); else the given path."""
    if path_or_auto == 'auto':
        pointer = os.path.join(work_dir, 'last_checkpoint')
        if not os.path.exists(pointer):
            return None
        with open(pointer) as f:
            return os.path.join(work_dir, f.read().strip())
    return path_or_auto


def load(pth_path):
    """Model state, optimizer state and trainer state of a checkpoint; refuses weights-only ones."""
    state_dir = pth_path[:-4] + '.state'
    ts_path = os.path.join(state_dir, 'trainer_state.json')
    if not os.path.exists(ts_path):
        raise FileNotFoundError(f'{pth_path}: no {ts_path} beside it: not a weft training checkpoint')
    with open(ts_path) as f:
        trainer_state = json.load(f)
    if not trainer_state.get('has_optimizer'):
        raise ValueError(f'{pth_path}: saved with save_optimizer: false (weights only) and cannot be resumed. '
                         'Start a new run with this file as the model instead, or resume from a full checkpoint.')
    optim_state = torch.load(os.path.join(state_dir, 'optimizer.pth'), map_location='cpu')
    return torch.load(pth_path, map_location='cpu'), optim_state, trainer_state


def rng_state():
    return {'torch': base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode('ascii')}


def set_rng_state(s):
    import numpy as np
    raw = np.frombuffer(base64.b64decode(s['torch']), dtype=np.uint8).copy()
    torch.set_rng_state(torch.from_numpy(raw))
