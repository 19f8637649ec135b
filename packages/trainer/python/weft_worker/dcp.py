"""Sharded checkpoints of FSDP2 runs, with torch.distributed.checkpoint (DCP).

Each rank writes only its own shards, in parallel; nothing is gathered on rank 0, so saving costs
no extra memory however large the model. Layout beside the plain checkpoints:

    iter_<N>.dcp/.metadata         DCP's index (a pickle: tensor shapes, chunks, file offsets)
    iter_<N>.dcp/__<rank>_0.distcp each rank's shards (model under `model.`, AdamW under `optim.`)
    iter_<N>.dcp/weft_keys.json    {our key: HF key}: what `weft convert pth-to-hf` names tensors
    iter_<N>.state/trainer_state.json   as for .pth checkpoints, with "format": "dcp"

Loading reshards: a run on any number of ranks reads the chunks it needs. The folder is written
as iter_<N>.dcp.tmp<pid> and renamed once every rank has finished, so a crash never leaves a
half-written checkpoint under its real name.
"""
import json
import os

import torch
import torch.distributed as dist


UNCONVERTIBLE = '__weft_unconvertible__'


def hf_key_map(model_keys, to_hf, mc):
    """{our key: HF key} when `to_hf` only renames (llama-style models); None when it also
    reshapes (internlm2 packs wqkv), which the converter cannot redo on shards."""
    try:
        out = to_hf({k: k for k in model_keys}, mc)
    except Exception:
        return None
    if not all(isinstance(v, str) for v in out.values()):
        return None
    return {ours: hf for hf, ours in out.items()}


def save(path_final, model, optimizer, want_optim, key_map):
    """Every rank calls this; returns when the folder is complete under its final name."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_optimizer_state_dict
    rank = dist.get_rank()
    # one temp name for all ranks: rank 0 picks it, the others learn it
    name = [f'{path_final}.tmp{os.getpid()}' if rank == 0 else None]
    dist.broadcast_object_list(name, src=0)
    tmp = name[0]
    state = {'model': get_model_state_dict(model)}
    if want_optim:
        state['optim'] = get_optimizer_state_dict(model, optimizer)
    dcp.save(state, checkpoint_id=tmp)
    dist.barrier()
    if rank == 0:
        if key_map is None:  # the converter must refuse rather than write tensors under our names
            key_map = {UNCONVERTIBLE: 'the HF layout of this model family reshapes tensors (internlm2 packs wqkv), '
                                      'which the converter does not redo on shards yet'}
        with open(os.path.join(tmp, 'weft_keys.json'), 'w') as f:
            json.dump(key_map, f, indent=0, sort_keys=True)
        if os.path.isdir(path_final):  # a stale one from an earlier run at this step
            import shutil
            shutil.rmtree(path_final)
        os.replace(tmp, path_final)
    dist.barrier()


def load(path, model, optimizer):
    """Fill the (sharded) model and optimizer from a DCP folder saved on any number of ranks."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import (get_model_state_dict, get_optimizer_state_dict,
                                                         set_model_state_dict, set_optimizer_state_dict)
    if not os.path.isfile(os.path.join(path, '.metadata')):
        raise SystemExit(f'{path}: no .metadata inside: not a complete sharded checkpoint (was the save interrupted?)')
    state = {'model': get_model_state_dict(model), 'optim': get_optimizer_state_dict(model, optimizer)}
    dcp.load(state, checkpoint_id=path)
    set_model_state_dict(model, state['model'])
    set_optimizer_state_dict(model, optimizer, state['optim'])

