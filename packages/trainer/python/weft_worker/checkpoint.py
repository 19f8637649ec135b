"""Checkpoints: `iter_<N>.pth` (the model's HF-keyed state dict, torch.save format: the input of
`weft convert pth-to-hf`), or for FSDP2 runs the sharded folder `iter_<N>.dcp/` (dcp.py), beside
either `iter_<N>.state/` with `optimizer.pth` (.pth only) and `trainer_state.json`, and
`last_checkpoint` naming the newest. Every file is written to a temp name
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
    steps = set()
    for name in os.listdir(work_dir) if os.path.isdir(work_dir) else []:
        if name.startswith('iter_') and name.endswith(('.pth', '.dcp')):
            try:
                steps.add(int(name[5:-4]))
            except ValueError:
                pass
    return sorted(steps)


def is_sharded(path):
    return path.rstrip('/').endswith('.dcp') and os.path.isdir(path)


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
    _rotate(work_dir, max_keep)


def save_sharded(work_dir, step, trainer_state, has_optimizer, max_keep):
    """Rank 0, after every rank has written iter_<N>.dcp (dcp.save): the trainer state, then
    `last_checkpoint`, then rotation, as `save` does for .pth checkpoints."""
    state_dir = os.path.join(work_dir, f'iter_{step}.state')
    os.makedirs(state_dir, exist_ok=True)
    trainer_state = dict(trainer_state, has_optimizer=has_optimizer, format='dcp')
    _atomic_text(json.dumps(trainer_state, indent=1, sort_keys=True), os.path.join(state_dir, 'trainer_state.json'))
    _atomic_text(f'iter_{step}.dcp\n', os.path.join(work_dir, 'last_checkpoint'))
    _rotate(work_dir, max_keep)


def _rotate(work_dir, max_keep):
    if max_keep and max_keep > 0:
        # Only weft's own checkpoints rotate: an iter_N.pth without weft's iter_N.state/ beside it
        # (xtuner names its checkpoints the same way) is never removed.
        ours = [s for s in list_checkpoints(work_dir) if os.path.isfile(os.path.join(work_dir, f'iter_{s}.state', 'trainer_state.json'))]
        for old in ours[:-max_keep]:
            if os.path.exists(os.path.join(work_dir, f'iter_{old}.pth')):
                os.remove(os.path.join(work_dir, f'iter_{old}.pth'))
            shutil.rmtree(os.path.join(work_dir, f'iter_{old}.dcp'), ignore_errors=True)
            shutil.rmtree(os.path.join(work_dir, f'iter_{old}.state'), ignore_errors=True)


def load_trainer_state(path):
    """trainer_state.json of a checkpoint (`iter_<N>.pth` or `iter_<N>.dcp`); refuses weights-only ones."""
    ts_path = os.path.join(path.rstrip('/')[:-4] + '.state', 'trainer_state.json')
    if not os.path.exists(ts_path):
        raise FileNotFoundError(f'{path}: no {ts_path} beside it: not a weft training checkpoint')
    with open(ts_path) as f:
        trainer_state = json.load(f)
    if not trainer_state.get('has_optimizer'):
        raise ValueError(f'{path}: saved with save_optimizer: false (weights only) and cannot be resumed. '
                         'Start a new run with this file as the model instead, or resume from a full checkpoint.')
    return trainer_state


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
    trainer_state = load_trainer_state(pth_path)
    state_dir = pth_path[:-4] + '.state'
    optim_state = torch.load(os.path.join(state_dir, 'optimizer.pth'), map_location='cpu')
    return torch.load(pth_path, map_location='cpu'), optim_state, trainer_state


def rng_state():
    return {'torch': base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode('ascii')}


def set_rng_state(s):
    import numpy as np
    raw = np.frombuffer(base64.b64decode(s['torch']), dtype=np.uint8).copy()
    torch.set_rng_state(torch.from_numpy(raw))
