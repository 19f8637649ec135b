#!/usr/bin/env python3
"""Golden Turbomind workspaces made by lmdeploy v0.9.2's own converter code.

Builds tiny HF models (llama, internlm2, qwen2; 2 layers, random weights from a fixed seed)
as safetensors + config.json + a small tokenizer.json, then runs lmdeploy's
`lmdeploy.turbomind.deploy.converter.main` on each, for tp=1 and tp=2, and writes a manifest.

lmdeploy's source is not installed on the GPU box: the needed files are carried in
`.carry/lmdeploy` (see turbomind_carry.sh). Its package `__init__`s pull in the whole serving
stack (fastapi, the compiled `_turbomind`, ...), so we import the deploy modules directly and
stand in for the few things that do not touch the weight files:
  - `mmengine.Registry` (a name -> class dict),
  - `lmdeploy.messages` (only `TurbomindEngineConfig`, whose class body is taken verbatim from
    the carried messages.py; decorated with pydantic's dataclass when pydantic is installed),
  - `lmdeploy.turbomind.turbomind` (only `update_parallel_config` and
    `complete_parallel_config`, taken verbatim from the carried turbomind.py),
  - `lmdeploy.model` (the chat-template registry: we always pass the template name),
  - `fire` (unused).
transformers, safetensors, torch and yaml are the real ones on the GPU box. With
`--allow-cpu-stubs` (for testing this script on a machine without them) stand-ins are used and
the manifest says so; such output is NOT a golden.

Usage: turbomind_golden.py --lmdeploy .carry --work DIR [--allow-cpu-stubs]
"""
import argparse
import ast
import dataclasses
import hashlib
import json
import math
import os
import struct
import sys
import types

import torch

STUBBED = []

# ---------------------------------------------------------------- tiny models

TOKENS = 60  # distinct tokens in the tokenizer (model vocab_size is larger: tokenizer_size = min)

MODELS = {
    'llama': dict(
        dtype=torch.bfloat16,
        config={
            'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'hidden_size': 128,
            'intermediate_size': 91, 'num_attention_heads': 2, 'num_key_value_heads': 1,
            'num_hidden_layers': 2, 'vocab_size': 67, 'rms_norm_eps': 1e-06,
            'max_position_embeddings': 512, 'rope_theta': 10000.0, 'tie_word_embeddings': False,
            'torch_dtype': 'bfloat16', 'hidden_act': 'silu', 'bos_token_id': 1, 'eos_token_id': 2,
        },
    ),
    'internlm2': dict(
        dtype=torch.float16,
        config={
            'architectures': ['InternLM2ForCausalLM'],
            'auto_map': {'AutoConfig': 'configuration_internlm2.InternLM2Config'},
            'model_type': 'internlm2', 'hidden_size': 256, 'intermediate_size': 48,
            'num_attention_heads': 2, 'num_key_value_heads': 1, 'num_hidden_layers': 2,
            'vocab_size': 64, 'rms_norm_eps': 1e-05, 'max_position_embeddings': 1024,
            'rope_theta': 1000000.0, 'rope_scaling': None, 'tie_word_embeddings': False,
            'torch_dtype': 'float16', 'bias': False, 'hidden_act': 'silu',
            'bos_token_id': 1, 'eos_token_id': 2,
        },
    ),
    'qwen2': dict(
        dtype=torch.float32,
        config={
            'architectures': ['Qwen2ForCausalLM'], 'model_type': 'qwen2', 'hidden_size': 128,
            'intermediate_size': 40, 'num_attention_heads': 2, 'num_key_value_heads': 2,
            'num_hidden_layers': 2, 'vocab_size': 64, 'rms_norm_eps': 1e-06,
            'max_position_embeddings': 256, 'rope_theta': 10000.0, 'tie_word_embeddings': True,
            'torch_dtype': 'float32', 'use_sliding_window': False, 'hidden_act': 'silu',
            'bos_token_id': 1, 'eos_token_id': 2,
        },
    ),
}

# (case name, model, tp, dtype, chat template)
CASES = [
    ('llama-tp1', 'llama', 1, 'bfloat16', 'llama2'),
    ('llama-tp2', 'llama', 2, 'bfloat16', 'llama2'),
    ('internlm2-tp1', 'internlm2', 1, 'auto', 'internlm2'),
    ('internlm2-tp2', 'internlm2', 2, 'auto', 'internlm2'),
    ('qwen2-tp1', 'qwen2', 1, 'auto', 'qwen'),
    ('qwen2-tp2', 'qwen2', 2, 'auto', 'qwen'),
    ('qwen2-bf16-tp1', 'qwen2', 1, 'bfloat16', 'qwen'),
]

INTERNLM2_CONFIG_PY = '''\
"""Minimal InternLM2 config class for a tiny test model (only what AutoConfig needs)."""
from transformers import PretrainedConfig


class InternLM2Config(PretrainedConfig):
    model_type = 'internlm2'

    def __init__(self, vocab_size=64, hidden_size=256, intermediate_size=48, num_hidden_layers=2,
                 num_attention_heads=2, num_key_value_heads=1, hidden_act='silu',
                 max_position_embeddings=1024, rms_norm_eps=1e-5, rope_theta=1000000.0,
                 rope_scaling=None, bias=False, tie_word_embeddings=False, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads
        self.hidden_act = hidden_act
        self.max_position_embeddings = max_position_embeddings
        self.rms_norm_eps = rms_norm_eps
        self.rope_theta = rope_theta
        self.rope_scaling = rope_scaling
        self.bias = bias
        super().__init__(tie_word_embeddings=tie_word_embeddings, **kwargs)
'''


def values(gen, shape, dtype, codebook, offset=0.0):
    """Random values drawn from a small codebook of full-precision numbers: every value still
    needs rounding when cast, but the files compress well (the archive must stay small)."""
    idx = torch.randint(0, codebook.numel(), shape, generator=gen)
    return (codebook[idx] + offset).to(dtype)


def tensors_of(name, spec):
    c = spec['config']
    gen = torch.Generator().manual_seed(1234 + sum(map(ord, name)))
    codebook = torch.randn(29, generator=gen, dtype=torch.float64).to(torch.float32) * 0.05
    dt = spec['dtype']
    h, inter, v = c['hidden_size'], c['intermediate_size'], c['vocab_size']
    nh, nkv = c['num_attention_heads'], c['num_key_value_heads']
    d = h // nh
    out = {}

    def put(key, shape, offset=0.0):
        out[key] = values(gen, shape, dt, codebook, offset)

    if name == 'internlm2':
        put('model.tok_embeddings.weight', (v, h))
        for i in range(c['num_hidden_layers']):
            p = f'model.layers.{i}.'
            put(p + 'attention.wqkv.weight', ((nh + 2 * nkv) * d, h))
            put(p + 'attention.wo.weight', (h, nh * d))
            put(p + 'feed_forward.w1.weight', (inter, h))
            put(p + 'feed_forward.w3.weight', (inter, h))
            put(p + 'feed_forward.w2.weight', (h, inter))
            put(p + 'attention_norm.weight', (h, ), 1.0)
            put(p + 'ffn_norm.weight', (h, ), 1.0)
        put('model.norm.weight', (h, ), 1.0)
        put('output.weight', (v, h))
    else:
        put('model.embed_tokens.weight', (v, h))
        for i in range(c['num_hidden_layers']):
            p = f'model.layers.{i}.'
            put(p + 'self_attn.q_proj.weight', (nh * d, h))
            put(p + 'self_attn.k_proj.weight', (nkv * d, h))
            put(p + 'self_attn.v_proj.weight', (nkv * d, h))
            put(p + 'self_attn.o_proj.weight', (h, nh * d))
            if name == 'qwen2':
                put(p + 'self_attn.q_proj.bias', (nh * d, ))
                put(p + 'self_attn.k_proj.bias', (nkv * d, ))
                put(p + 'self_attn.v_proj.bias', (nkv * d, ))
            put(p + 'mlp.gate_proj.weight', (inter, h))
            put(p + 'mlp.up_proj.weight', (inter, h))
            put(p + 'mlp.down_proj.weight', (h, inter))
            put(p + 'input_layernorm.weight', (h, ), 1.0)
            put(p + 'post_attention_layernorm.weight', (h, ), 1.0)
        put('model.norm.weight', (h, ), 1.0)
        if not c['tie_word_embeddings']:
            put('lm_head.weight', (v, h))
    return out


ST_DTYPE = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16'}


def save_safetensors(path, tensors):
    """The safetensors format, written by hand (the python package may be missing)."""
    header, blobs, pos = {}, [], 0
    for k in sorted(tensors):
        t = tensors[k].contiguous()
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[k] = {'dtype': ST_DTYPE[t.dtype], 'shape': list(t.shape), 'data_offsets': [pos, pos + len(raw)]}
        blobs.append(raw)
        pos += len(raw)
    header['__metadata__'] = {'format': 'pt'}
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def tokenizer_files():
    words = ['<unk>', '<s>', '</s>'] + [f'w{i}' for i in range(3, TOKENS - 1)]
    vocab = {w: i for i, w in enumerate(words)}

    def added(i, content):
        return {'id': i, 'content': content, 'single_word': False, 'lstrip': False, 'rstrip': False,
                'normalized': False, 'special': True}

    tok = {
        'version': '1.0', 'truncation': None, 'padding': None,
        # one added token outside the model vocab: len(tokenizer) counts it
        'added_tokens': [added(0, '<unk>'), added(1, '<s>'), added(2, '</s>'), added(TOKENS - 1, '<|extra|>')],
        'normalizer': None, 'pre_tokenizer': {'type': 'Whitespace'}, 'post_processor': None, 'decoder': None,
        'model': {'type': 'WordLevel', 'vocab': vocab, 'unk_token': '<unk>'},
    }
    cfg = {'tokenizer_class': 'PreTrainedTokenizerFast', 'unk_token': '<unk>', 'bos_token': '<s>',
           'eos_token': '</s>', 'model_max_length': 512}
    return tok, cfg


def make_models(root):
    for name, spec in MODELS.items():
        d = os.path.join(root, 'hf', name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, 'config.json'), 'w') as f:
            json.dump(spec['config'], f, indent=2)
        tok, tcfg = tokenizer_files()
        with open(os.path.join(d, 'tokenizer.json'), 'w') as f:
            json.dump(tok, f, indent=2)
        with open(os.path.join(d, 'tokenizer_config.json'), 'w') as f:
            json.dump(tcfg, f, indent=2)
        with open(os.path.join(d, 'generation_config.json'), 'w') as f:
            json.dump({'bos_token_id': 1, 'eos_token_id': 2}, f, indent=2)
        if name == 'internlm2':
            with open(os.path.join(d, 'configuration_internlm2.py'), 'w') as f:
                f.write(INTERNLM2_CONFIG_PY)
        save_safetensors(os.path.join(d, 'model.safetensors'), tensors_of(name, spec))


# ---------------------------------------------------------------- lmdeploy import shims


def module(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


def package(name, path):
    """A package whose `__init__` is not run (lmdeploy's pull in the serving stack)."""
    m = module(name)
    m.__path__ = [path]
    return m


def extract(path, names, namespace):
    """Run the named top-level definitions of a carried lmdeploy file, verbatim, in `namespace`."""
    with open(path) as f:
        tree = ast.parse(f.read())
    body = [n for n in tree.body if getattr(n, 'name', None) in names]
    missing = set(names) - {n.name for n in body}
    assert not missing, f'{path}: {missing} not found'
    exec(compile(ast.Module(body=body, type_ignores=[]), path, 'exec'), namespace)
    return namespace


class Registry:

    def __init__(self, name, locations=None, **kwargs):
        self.name = name
        self.module_dict = {}

    def register_module(self, name=None, module=None, force=False):

        def deco(cls):
            for n in (name if isinstance(name, (list, tuple)) else [name or cls.__name__]):
                self.module_dict[n] = cls
            return cls

        return deco if module is None else deco(module)

    def get(self, key):
        return self.module_dict[key]


def install_cpu_stubs():
    """Stand-ins for transformers / safetensors / tqdm, ONLY to test this script without them."""
    try:
        import safetensors  # noqa: F401
    except ImportError:
        STUBBED.append('safetensors')

        class SafeOpen:

            def __init__(self, path, framework):
                with open(path, 'rb') as f:
                    n = struct.unpack('<Q', f.read(8))[0]
                    self.header = json.loads(f.read(n))
                    self.data = f.read()
                self.header.pop('__metadata__', None)

            def __enter__(self):
                return self

            def __exit__(self, *a):
                return False

            def keys(self):
                return list(self.header)

            def get_tensor(self, k):
                e = self.header[k]
                b, end = e['data_offsets']
                dt = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16}[e['dtype']]
                return torch.frombuffer(bytearray(self.data[b:end]), dtype=dt).reshape(e['shape'])

        module('safetensors', safe_open=SafeOpen)
    try:
        import tqdm  # noqa: F401
    except ImportError:
        STUBBED.append('tqdm')

        class Tqdm:

            def __init__(self, *a, **k):
                pass

            def update(self, n=1):
                pass

            def close(self):
                pass

            @staticmethod
            def write(s):
                print(s)

        module('tqdm', tqdm=Tqdm)
    try:
        import transformers  # noqa: F401
    except ImportError:
        STUBBED.append('transformers')

        class PretrainedConfig:

            def __init__(self, d):
                self._d = dict(d)
                self.__dict__.update(d)
                if isinstance(d.get('torch_dtype'), str):
                    self.torch_dtype = getattr(torch, d['torch_dtype'])

            def to_dict(self):
                return dict(self._d)

            @classmethod
            def from_pretrained(cls, path, **k):
                with open(os.path.join(path, 'config.json')) as f:
                    return cls(json.load(f))

        class Tok:

            def __init__(self, n):
                self.n = n

            def __len__(self):
                return self.n

        class AutoTokenizer:

            @staticmethod
            def from_pretrained(path, **k):
                with open(os.path.join(path, 'tokenizer.json')) as f:
                    t = json.load(f)
                return Tok(len(set(t['model']['vocab']) | {a['content'] for a in t['added_tokens']}))

        module('transformers', AutoConfig=PretrainedConfig, PretrainedConfig=PretrainedConfig,
               AutoTokenizer=AutoTokenizer)


def import_converter(carry, cpu):
    src = os.path.join(carry, 'lmdeploy')
    module('mmengine', Registry=Registry)
    module('fire', Fire=lambda *a, **k: None)
    STUBBED.extend(['mmengine.Registry', 'fire', 'lmdeploy.model', 'lmdeploy.messages (TurbomindEngineConfig verbatim)',
                    'lmdeploy.turbomind.turbomind (update_parallel_config verbatim)'])
    try:
        from pydantic.dataclasses import dataclass as pyd  # noqa: F401
    except ImportError:
        STUBBED.append('pydantic.dataclasses -> dataclasses')
        module('pydantic', dataclasses=module('pydantic.dataclasses', dataclass=dataclasses.dataclass))
    if cpu:
        install_cpu_stubs()
    package('lmdeploy', src)
    package('lmdeploy.turbomind', os.path.join(src, 'turbomind'))
    from typing import Any, Dict, List, Optional  # noqa: F401
    from pydantic.dataclasses import dataclass as pydantic_dataclass
    messages = module('lmdeploy.messages', dataclass=dataclasses.dataclass, pydantic_dataclass=pydantic_dataclass,
                      Optional=Optional, List=List, Dict=Dict, Any=Any, PytorchEngineConfig=object)
    ns = messages.__dict__
    extract(os.path.join(src, 'messages.py'), ['TurbomindEngineConfig'], ns)
    tns = dict(torch=torch, math=math, TurbomindEngineConfig=ns['TurbomindEngineConfig'])
    extract(os.path.join(src, 'turbomind', 'turbomind.py'), ['complete_parallel_config', 'update_parallel_config'], tns)
    module('lmdeploy.turbomind.turbomind', update_parallel_config=tns['update_parallel_config'])
    templates = types.SimpleNamespace(module_dict={n: object for n in ('base', 'llama2', 'internlm2', 'qwen')})
    module('lmdeploy.model', MODELS=templates, best_match_model=lambda p: 'base')
    from lmdeploy.turbomind.deploy import converter, policy
    import lmdeploy.turbomind.deploy.source_model  # noqa: F401  (registers the readers)
    import lmdeploy.turbomind.deploy.target_model  # noqa: F401
    if cpu:
        policy.to_cuda = lambda x, *a: x
        converter.is_bf16_supported = lambda *a: True
    return converter


# ---------------------------------------------------------------- main


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


# rope_scaling variants for config.yaml only (float fields written as float literals, so the
# output does not depend on whether pydantic coerces ints)
ROPE_VARIANTS = {
    'llama3': dict(rope_theta=500000.0, max_position_embeddings=131072, rope_scaling={
        'rope_type': 'llama3', 'factor': 8.0, 'low_freq_factor': 1.0, 'high_freq_factor': 4.0,
        'original_max_position_embeddings': 8192}),
    'yarn-orig': dict(max_position_embeddings=131072, rope_scaling={
        'type': 'yarn', 'factor': 8.0, 'original_max_position_embeddings': 32768}),
    'yarn': dict(max_position_embeddings=4096, rope_scaling={'rope_type': 'yarn', 'factor': 2.0, 'beta_fast': 16.0}),
    'dynamic': dict(rope_scaling={'type': 'dynamic', 'factor': 2.0}),
    'linear': dict(rope_theta=1000000.0, rope_scaling={'type': 'linear', 'factor': 4.0}),
    'default': dict(rope_scaling={'rope_type': 'default'}),
}


def rope_cases(converter, work):
    """config.yaml of a 1-layer llama for each rope_scaling variant."""
    out = {}
    for name, extra in ROPE_VARIANTS.items():
        spec = dict(MODELS['llama'])
        spec['config'] = dict(spec['config'], num_hidden_layers=1, **extra)
        d = os.path.join(work, 'rope', name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, 'config.json'), 'w') as f:
            json.dump(spec['config'], f, indent=2)
        tok, tcfg = tokenizer_files()
        with open(os.path.join(d, 'tokenizer.json'), 'w') as f:
            json.dump(tok, f)
        with open(os.path.join(d, 'tokenizer_config.json'), 'w') as f:
            json.dump(tcfg, f)
        save_safetensors(os.path.join(d, 'model.safetensors'), tensors_of('llama', spec))
        dst = os.path.join(work, 'rope-tm', name)
        converter.main(model_name='tiny-llama', model_path=d, dtype='bfloat16', chat_template='llama2', dst_path=dst, tp=1)
        with open(os.path.join(dst, 'triton_models', 'weights', 'config.yaml')) as f:
            out[name] = {'config': spec['config'], 'yaml': f.read()}
    with open(os.path.join(work, 'rope-cases.json'), 'w') as f:
        json.dump({'stubbed': STUBBED, 'cases': out}, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--lmdeploy', required=True, help='folder holding the carried lmdeploy/ package')
    ap.add_argument('--work', required=True)
    ap.add_argument('--allow-cpu-stubs', action='store_true')
    ap.add_argument('--rope-only', action='store_true', help='only the rope_scaling config.yaml cases')
    a = ap.parse_args()
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
    if a.rope_only:
        rope_cases(import_converter(os.path.abspath(a.lmdeploy), a.allow_cpu_stubs), a.work)
        return
    make_models(a.work)
    converter = import_converter(os.path.abspath(a.lmdeploy), a.allow_cpu_stubs)
    manifest = {'lmdeploy': '0.9.2', 'torch': torch.__version__, 'stubbed': STUBBED, 'cases': {}}
    try:
        import transformers
        manifest['transformers'] = getattr(transformers, '__version__', 'stub')
    except ImportError:
        pass
    for case, model, tp, dtype, template in CASES:
        dst = os.path.join(a.work, 'tm', case)
        try:
            converter.main(model_name=f'tiny-{model}', model_path=os.path.join(a.work, 'hf', model), dtype=dtype,
                           chat_template=template, dst_path=dst, tp=tp)
        except Exception:  # keep going: one device run should tell us about every case
            import traceback
            manifest['cases'][case] = {'error': traceback.format_exc()}
            print(f'CASE {case} FAILED', traceback.format_exc(), file=sys.stderr)
            continue
        files = {}
        for dirpath, _, names in os.walk(dst):
            for n in names:
                p = os.path.join(dirpath, n)
                files[os.path.relpath(p, dst)] = {'size': os.path.getsize(p), 'sha256': sha256(p)}
        manifest['cases'][case] = {'model': model, 'tp': tp, 'dtype': dtype, 'chat_template': template,
                                   'model_name': f'tiny-{model}', 'files': dict(sorted(files.items()))}
    with open(os.path.join(a.work, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    print(json.dumps({k: v for k, v in manifest.items() if k != 'cases'}, indent=1))


if __name__ == '__main__':
    main()
