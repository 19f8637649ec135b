"""Text generation from an HF folder the worker can load (what `weft generate` runs): token ids in,
token ids out; the tokenizer and the chat template stay on the TypeScript side.

    echo '{"prompt_ids": [1, 333, 444]}' | python -m weft_worker.generate --model hf/ --max-new-tokens 32

Greedy by default (argmax, the lowest id on a tie, as torch.argmax and HF's greedy search); with
`--temperature T` (> 0) sampled: logits / T, then nucleus `--top-p P` (the smallest set of tokens,
most likely first, whose probability reaches P), drawn with a torch.Generator seeded by `--seed`, so
the same seed gives the same ids. Each new token re-runs the whole sequence (no KV cache): simple,
and it matches InternLM v1's 'dynamic' rotary, which rescales every position once the sequence
passes max_position_embeddings. Prints one JSON line: {"ids": [...], "stopped": "eos"|"length"}.
"""
import argparse
import json
import sys

import torch

from .model import Decoder, ModelConfig, from_hf
from .safetensors_io import load_folder

_DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}


def load_model(folder, device='cpu', dtype='fp32'):
    """The worker's Decoder with the folder's weights, in eval mode."""
    c = ModelConfig.from_folder(folder)
    m = Decoder(c, 'math')
    m.load_state_dict(from_hf(load_folder(folder), c), strict=True)
    return m.to(device=device, dtype=_DTYPES[dtype]).eval()


@torch.no_grad()
def next_logits(model, ids):
    """Logits (fp32) for the token after `ids` (1-D LongTensor on the model's device)."""
    t = ids.shape[0]
    pos = torch.arange(t, device=ids.device)
    cu = torch.tensor([0, t], dtype=torch.int32, device=ids.device)
    return model(ids, pos, cu, t)[-1].float()


def pick(logits, temperature, top_p, gen):
    if not temperature or temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / temperature, dim=-1)
    if 0 < top_p < 1:
        p, idx = torch.sort(probs, descending=True)
        keep = torch.cumsum(p, dim=0) - p < top_p  # a token stays while the mass before it is below P
        keep[0] = True
        probs = torch.zeros_like(probs).scatter_(0, idx[keep], p[keep])
    return int(torch.multinomial(probs.cpu(), 1, generator=gen))


def generate(model, prompt_ids, max_new_tokens, stop_ids=(), temperature=0.0, top_p=1.0, seed=0):
    """Generated ids after `prompt_ids` (the stop token, when reached, is included) and why it ended."""
    device = next(model.parameters()).device
    vocab = model.c.vocab_size
    bad = [i for i in prompt_ids if not 0 <= i < vocab]
    if bad:
        raise ValueError(f'prompt token id {bad[0]} is outside the model vocabulary (vocab_size {vocab}): '
                         'the tokenizer does not belong to this model; pass its own with --tokenizer')
    gen = torch.Generator().manual_seed(int(seed))
    ids = torch.tensor(prompt_ids, dtype=torch.long, device=device)
    out, stops = [], set(stop_ids)
    for _ in range(max_new_tokens):
        tok = pick(next_logits(model, ids), temperature, top_p, gen)
        out.append(tok)
        if tok in stops:
            return out, 'eos'
        ids = torch.cat((ids, torch.tensor([tok], device=device)))
    return out, 'length'


def main(argv=None):
    ap = argparse.ArgumentParser(description='weft generate worker: prompt ids (JSON on stdin) -> generated ids')
    ap.add_argument('--model', required=True)
    ap.add_argument('--max-new-tokens', type=int, default=128)
    ap.add_argument('--temperature', type=float, default=0.0)
    ap.add_argument('--top-p', type=float, default=1.0)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--stop', type=int, action='append', default=[])
    ap.add_argument('--device', default='auto')
    ap.add_argument('--dtype', default='auto', choices=['auto', 'fp32', 'bf16', 'fp16'])
    a = ap.parse_args(argv)
    device = ('cuda' if torch.cuda.is_available() else 'cpu') if a.device == 'auto' else a.device
    dtype = a.dtype if a.dtype != 'auto' else ('bf16' if device.startswith('cuda') else 'fp32')
    req = json.load(sys.stdin)
    model = load_model(a.model, device, dtype)
    try:
        ids, why = generate(model, req['prompt_ids'], a.max_new_tokens, a.stop, a.temperature, a.top_p, a.seed)
    except ValueError as e:
        sys.stderr.write(f'weft generate: {a.model}: {e}\n')
        sys.exit(2)
    sys.stdout.write(json.dumps({'ids': ids, 'stopped': why, 'device': device, 'dtype': dtype}) + '\n')


if __name__ == '__main__':
    main()
