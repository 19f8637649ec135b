"""Checks of the GPU speed paths that also run on CPU (prints one JSON line):
  - loss.linear_cross_entropy (chunked, gradients computed in forward) equals F.cross_entropy over the
    full logits: loss and both gradients, fp32, with ignored targets and a ragged last chunk;
  - precision.MasterWeights: bf16 parameters and fp32 masters track an fp32 model over a few AdamW
    steps, rotary's inv_freq stays fp32, and checkpoints carry fp32 values under every tied name.
"""
import copy
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from weft_worker.loss import linear_cross_entropy  # noqa: E402
from weft_worker.model import Decoder, ModelConfig  # noqa: E402
from weft_worker.precision import MasterWeights  # noqa: E402


def chunked_ce():
    torch.manual_seed(0)
    h = torch.randn(300, 16, requires_grad=True)
    w = torch.randn(50, 16, requires_grad=True)
    t = torch.randint(0, 50, (300,))
    t[::7] = -100
    ref = F.cross_entropy(h @ w.t(), t, ignore_index=-100, reduction='sum')
    (ref * 0.37).backward()
    gh, gw = h.grad.clone(), w.grad.clone()
    h.grad = w.grad = None
    got = linear_cross_entropy(h, w, t, 128)  # chunks of 128, 128, 44
    (got * 0.37).backward()
    return {'loss_rel_diff': abs(got.item() - ref.item()) / ref.item(),
            'grad_h_max_diff': (h.grad - gh).abs().max().item(), 'grad_w_max_diff': (w.grad - gw).abs().max().item(),
            'grad_scale': gw.abs().max().item()}


def master_weights():
    c = ModelConfig.from_hf(dict(model_type='llama', vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                 num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True))
    torch.manual_seed(0)
    ref = Decoder(c, 'math')
    ref.init_weights(1)
    m = copy.deepcopy(ref)
    mw = MasterWeights(m)
    o_ref = torch.optim.AdamW(ref.parameters(), lr=1e-2)
    o = torch.optim.AdamW(mw.master, lr=1e-2)
    ids, tgt = torch.randint(0, 100, (64,)), torch.randint(0, 100, (64,))
    pos = torch.cat([torch.arange(30), torch.arange(34)])
    cu = torch.tensor([0, 30, 64], dtype=torch.int32)
    losses = []
    for _ in range(6):
        a = ref(ids, pos, cu, 34, target=tgt)
        a.backward()
        o_ref.step()
        o_ref.zero_grad()
        for i in range(2):  # two micro batches accumulated into the fp32 master gradients
            m.ce_chunk = 16 if i else 0
            b = m(ids, pos, cu, 34, target=tgt)
            (b / 2).backward()
            mw.accumulate(first=i == 0)
        o.step()
        o.zero_grad(set_to_none=True)
        mw.publish()
        losses.append((a.item(), b.item()))
    sd = mw.state_dict()
    return {'losses_ref_vs_bf16': losses, 'max_loss_rel_diff': max(abs(x - y) / x for x, y in losses),
            'param_dtype': str(m.layers[0].mlp.up_proj.weight.dtype), 'inv_freq_dtype': str(m.inv_freq.dtype),
            'checkpoint_dtypes': sorted({str(v.dtype) for k, v in sd.items()}),
            'tied_keys_present': 'lm_head.weight' in sd and 'embed_tokens.weight' in sd,
            'master_vs_ref_max_diff': max((sd[k] - v).abs().max().item() for k, v in ref.state_dict().items())}


if __name__ == '__main__':
    print(json.dumps({'chunked_ce': chunked_ce(), 'master_weights': master_weights()}))
