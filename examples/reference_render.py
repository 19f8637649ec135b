#!/usr/bin/env python3
"""Independent reference for examples/chat-pipeline.ts: the text xtuner feeds the tokenizer.

For every ftdp record (files: a directory's own files sorted, then its subdirectories), apply
xtuner's openai_map_fn (system / user / assistant turns, the `loss` flag) and template_map_fn
with the internlm2_chat template (SUFFIX '<|im_end|>' as EOS, SEP '\\n'), and print per record
the whole text and the text that carries loss, as JSON. With a Qwen tokenizer there is no BOS.

    python3 examples/reference_render.py <folder>
"""
import json
import os
import sys

SYSTEM = '<|im_start|>system\n{system}<|im_end|>\n'
INSTRUCTION = '<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n'
SUFFIX = '<|im_end|>'
SEP = '\n'


def files(d):
    names = sorted(os.listdir(d))
    out = [os.path.join(d, n) for n in names if n.endswith('.json') and os.path.isfile(os.path.join(d, n))]
    for n in names:
        if os.path.isdir(os.path.join(d, n)):
            out += files(os.path.join(d, n))
    return out


def turns(messages):
    while messages and messages[0]['role'] == 'assistant':
        messages = messages[1:]
    system, inp, conv = '', '', []
    for m in messages:
        if m['role'] == 'system':
            system = m['content']
        elif m['role'] == 'user':
            inp += m['content']
        elif m['role'] == 'assistant':
            conv.append((system, inp, m['content'], str(m.get('loss', True)).lower() == 'true'))
            system, inp = '', ''
    return conv


def render(messages):
    text, loss = '', ''
    for i, (system, inp, out, with_loss) in enumerate(turns(messages)):
        prompt = INSTRUCTION.format(input=inp, round=i + 1)
        if system:
            prompt = SYSTEM.format(system=system) + prompt
        text += prompt + out + SUFFIX + SEP
        if with_loss:
            loss += out + SUFFIX
    return {'text': text, 'loss': loss}


if __name__ == '__main__':
    out = []
    for f in files(sys.argv[1]):
        with open(f, encoding='utf-8') as fh:
            records = [json.loads(line) for line in fh if line.strip()]
        # xtuner reads a file as one HF datasets Dataset: every message gets every key some message
        # of the file has, None where it had none (reproduced here, not by calling datasets), and
        # str(None).lower() is not "true": such a reply has no loss.
        keys = {k for r in records for m in r for k in m}
        out += [render([{**{k: None for k in keys}, **m} for m in r]) for r in records]
    json.dump(out, sys.stdout, ensure_ascii=False)
