"""InternLM on the GPU box (transformers 5.x, torch 2.x CUDA; no Node there), issue 15:

1. A tiny InternLM v1 folder (q/k/v/o bias, rotary dynamic) is trained by the worker itself
   (`python -m weft_worker.train`, the feed replayed from recorded frames) in fp16 with the dynamic
   loss scale, started far too high so that real overflows back it off; the checkpoint becomes an
   HF folder (what `weft convert pth-to-hf` does: the same tensors under the same keys).
2. That folder, and a tiny random InternLM2 folder, load in transformers as LlamaForCausalLM: the
   keys map one to one (v1: llama's `attention_bias` puts a bias on q, k, v and o, as InternLM's
   `bias` does; v2: wqkv split by the worker's own unpacking) and rotary 'dynamic' maps to llama's
   dynamic NTK rope_scaling (same formula). Logits on the same tokens, fp32, TF32 off: max |diff|.
3. Greedy generation: the worker's generate path (weft_worker.generate, what `weft generate` runs;
   called from Python here, as the box has no Node) against transformers' `generate`.
4. With `--converted DIR`: each folder in DIR, written by `weft convert internlm-to-hf` on a machine
   with Node (tools/device/internlm_convert_here.sh), goes through 2. and 3. the same way; where the
   folder holds weft_generate.json (`weft generate --json` run there, on CPU), its prompt ids are
   the prompt and its ids must equal transformers' greedy continuation too. `--converted-only`
   skips 1.-3.

    python3 tools/device/internlm_check.py OUT_DIR [--converted DIR [--converted-only]]
    (prints a table; writes OUT_DIR/internlm_check.json)
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'packages', 'trainer', 'python'))
sys.path.insert(0, os.path.join(ROOT, 'tools', 'reference'))
import internlm_ref  # noqa: E402
from weft_worker.feed import encode_frame, end_frame  # noqa: E402
from weft_worker.generate import generate, load_model  # noqa: E402
from weft_worker.model import ModelConfig, from_hf  # noqa: E402
from weft_worker.safetensors_io import load_folder, save_file  # noqa: E402

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
DEV = 'cuda' if torch.cuda.is_available() else 'cpu'


def feed_file(path, n_packs, length, vocab, seed=0):
    """Packs of learnable documents: each a phrase of a small phrase book, repeated."""
    rng = np.random.RandomState(seed)
    book = rng.randint(3, vocab, size=(8, 6))
    with open(path, 'wb') as f:
        for i in range(n_packs):
            ids, cu = [], [0]
            while len(ids) < length:
                doc = np.tile(book[rng.randint(8)], 8)[: min(24, length - len(ids))]
                ids.extend(doc.tolist())
                cu.append(len(ids))
            pos = np.concatenate([np.arange(e - s) for s, e in zip(cu[:-1], cu[1:])])
            f.write(encode_frame(ids, ids, cu, pos, 0, i))
        f.write(end_frame())


def train_fp16(tmp):
    model = os.path.join(tmp, 'v1')
    # head_dim 16: flash-attention's varlen kernel (the worker's GPU path) wants a multiple of 8, >= 16 to be safe.
    cfg = internlm_ref.make_folder(model, 'internlm', seed=1, overrides={'max_position_embeddings': 2048, 'hidden_size': 64,
                                                                         'intermediate_size': 128})
    steps, length = 40, 96
    feed_file(os.path.join(tmp, 'frames.bin'), steps, length, cfg['vocab_size'])
    work = os.path.join(tmp, 'work')
    wc = {'model': {'path': model}, 'seed': 1, 'micro_batch_size': 1, 'accumulative_counts': 1, 'lr': 3e-3,
          'betas': [0.9, 0.95], 'weight_decay': 0.0, 'warmup_ratio': 0.0, 'eta_min': 3e-3, 'max_norm': 1.0,
          'total_steps': steps, 'checkpoint_every': steps, 'max_keep_ckpts': 1, 'save_optimizer': False,
          'work_dir': work, 'pack_sample_into_one': False, 'attn_impl': 'auto', 'compile': False,
          'precision': 'auto', 'ce_chunk': 0, 'dataset_length': steps, 'valid_every': 0, 'valid_micro_num': 0,
          'dtype': 'fp16', 'grad_scaler': {'initial_scale': 2.0 ** 40, 'backoff_factor': 0.0625, 'hysteresis': 1,
                                            'growth_interval': 10, 'growth_factor': 2, 'min_scale': 1, 'max_scale': 2.0 ** 40}}
    with open(os.path.join(tmp, 'worker.json'), 'w') as f:
        json.dump(wc, f)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, 'packages', 'trainer', 'python'),
               WEFT_FEED=f'file:{tmp}/frames.bin', RANK='0', WORLD_SIZE='1', LOCAL_RANK='0',
               WEFT_DEBUG_INF_GRAD_STEPS='25')
    t0 = time.time()
    p = subprocess.run([sys.executable, '-m', 'weft_worker.train', '--config', os.path.join(tmp, 'worker.json')],
                       env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f'worker failed ({p.returncode}):\n{p.stderr[-3000:]}')
    rows = [json.loads(l[len('@weft-metrics '):]) for l in p.stdout.splitlines() if l.startswith('@weft-metrics ')]
    start = next(r for r in rows if r.get('event') == 'start')
    st = [r for r in rows if 'loss' in r]
    # pth-to-hf's job here: the checkpoint's HF-keyed tensors, written as safetensors beside the config.
    hf = os.path.join(tmp, 'v1_hf')
    os.makedirs(hf)
    save_file(torch.load(os.path.join(work, f'iter_{steps}.pth'), map_location='cpu'), os.path.join(hf, 'model.safetensors'))
    with open(os.path.join(hf, 'config.json'), 'w') as f:
        json.dump(cfg, f)
    return hf, {'mode': start['mode'], 'attn': start['attn'], 'wall_s': round(time.time() - t0, 1),
                'loss_first': st[0]['loss'], 'loss_last': st[-1]['loss'],
                'loss_scale': [r['loss_scale'] for r in st], 'skipped_steps': [r['step'] for r in st if r['skipped']]}


def llama_folder(src, out):
    """The same weights as a transformers LlamaForCausalLM folder (config mapped, keys as llama's)."""
    cfg = json.load(open(os.path.join(src, 'config.json')))
    c = ModelConfig.from_hf(cfg)
    sd = from_hf(load_folder(src), c)
    llama = {('lm_head.weight' if k == 'lm_head.weight' else f'model.{k}'): v for k, v in sd.items()}
    lc = dict(model_type='llama', architectures=['LlamaForCausalLM'], vocab_size=c.vocab_size, hidden_size=c.hidden_size,
              intermediate_size=c.intermediate_size, num_hidden_layers=c.num_hidden_layers,
              num_attention_heads=c.num_attention_heads, num_key_value_heads=c.num_key_value_heads, head_dim=c.head_dim,
              hidden_act='silu', max_position_embeddings=cfg.get('max_position_embeddings', 2048), rms_norm_eps=c.rms_norm_eps,
              rope_theta=c.rope_theta, attention_bias=c.qkv_bias, mlp_bias=False, tie_word_embeddings=c.tie_word_embeddings,
              bos_token_id=1, eos_token_id=2, pad_token_id=0, torch_dtype='float32')
    if c.qkv_bias != c.o_bias:
        raise SystemExit('qkv bias without o bias has no exact llama mapping')
    if c.rotary_type in ('dynamic', 'linear'):  # InternLM v1 rotary.type / InternLM2 rope_scaling.type: llama's of that name
        lc['rope_scaling'] = {'rope_type': c.rotary_type, 'factor': c.rotary_scaling}
        lc['rope_parameters'] = {'rope_type': c.rotary_type, 'factor': c.rotary_scaling, 'rope_theta': c.rope_theta}
    else:
        lc['rope_parameters'] = {'rope_type': 'default', 'rope_theta': c.rope_theta}
    os.makedirs(out)
    try:  # transformers checks the header's format tag; the worker's own writer adds no metadata
        from safetensors.torch import save_file as st_save
        st_save({k: v.contiguous() for k, v in llama.items()}, os.path.join(out, 'model.safetensors'), metadata={'format': 'pt'})
    except ImportError:
        save_file(llama, os.path.join(out, 'model.safetensors'))
    with open(os.path.join(out, 'config.json'), 'w') as f:
        json.dump(lc, f)
    return out


def compare(name, folder, tmp, lengths, gen_len, prompt=None):
    from transformers import AutoModelForCausalLM
    hf, info = AutoModelForCausalLM.from_pretrained(llama_folder(folder, os.path.join(tmp, name + '_llama')),
                                                    dtype=torch.float32, attn_implementation='eager',
                                                    output_loading_info=True)
    hf = hf.to(DEV).eval()
    ours = load_model(folder, DEV, 'fp32')
    vocab = ours.c.vocab_size
    g = torch.Generator().manual_seed(3)
    out = {'missing': sorted(info.get('missing_keys', [])), 'unexpected': sorted(info.get('unexpected_keys', [])),
           'o_proj_bias': hf.model.layers[0].self_attn.o_proj.bias is not None}
    for t in lengths:
        ids = torch.randint(3, vocab, (t,), generator=g)
        with torch.no_grad():
            a = ours(ids.to(DEV), torch.arange(t, device=DEV), torch.tensor([0, t], dtype=torch.int32, device=DEV), t)
            b = hf(ids[None].to(DEV)).logits[0]
        out[f'logits_max_abs_diff_T{t}'] = (a - b).abs().max().item()
    prompt = prompt or torch.randint(3, vocab, (12,), generator=g).tolist()
    w_ids, why = generate(ours, prompt, gen_len, stop_ids=[2])
    with torch.no_grad():
        h = hf.generate(torch.tensor([prompt], device=DEV), max_new_tokens=gen_len, do_sample=False,
                        eos_token_id=2, pad_token_id=0)[0, len(prompt):].tolist()
    out['greedy_equal'] = w_ids == h
    out['greedy_worker'] = w_ids
    out['greedy_transformers'] = h
    return out


def converted(src, tmp):
    """4.: the internlm-to-hf folders under `src` (sorted by name), each against transformers."""
    out = {}
    for name in sorted(os.listdir(src)):
        folder = os.path.join(src, name)
        if not os.path.isfile(os.path.join(folder, 'config.json')):
            continue
        cfg = json.load(open(os.path.join(folder, 'config.json')))
        mp = cfg.get('max_position_embeddings', 4096)
        lengths = (24, 80) if mp < 80 else (40,)  # past max_position_embeddings too when the folder's is small
        cli = os.path.join(folder, 'weft_generate.json')
        recorded = json.load(open(cli)) if os.path.isfile(cli) else None
        try:
            r = compare('converted_' + name, folder, tmp, lengths, len(recorded['ids']) if recorded else 8,
                        recorded['prompt_ids'] if recorded else None)
            r['model_type'] = cfg['model_type']
            r['rotary'] = cfg.get('rotary') or cfg.get('rope_scaling')
            r['max_position_embeddings'] = mp
            if recorded:
                r['weft_generate_cpu'] = recorded['ids']
                r['weft_generate_cpu_equal'] = recorded['ids'] == r['greedy_transformers']
        except Exception as e:
            r = {'error': f'{type(e).__name__}: {str(e)[:2000]}'}
        out[name] = r
        row(f'internlm-to-hf {name}', r)  # as it goes: a run cut short still shows the folders done
        sys.stdout.flush()
    return out


def main():
    args = sys.argv[1:]
    out_dir = args[0] if args and not args[0].startswith('--') else '.'
    conv = args[args.index('--converted') + 1] if '--converted' in args else None
    import transformers
    res = {'torch': torch.__version__, 'transformers': transformers.__version__, 'device': DEV,
           'gpu': torch.cuda.get_device_name(0) if DEV == 'cuda' else ''}
    with tempfile.TemporaryDirectory() as tmp:
        if conv:
            res['converted'] = converted(conv, tmp)
        if '--converted-only' in args:
            return report(res, out_dir)
        try:
            v1, res['train_fp16'] = train_fp16(tmp)
        except Exception as e:  # still compare the untrained folders
            res['train_fp16'] = {'error': f'{type(e).__name__}: {str(e)[:2000]}'}
            v1 = os.path.join(tmp, 'v1')
        for name, folder, lengths in (('internlm_v1_trained', v1, (40,)),):
            try:
                res[name] = compare(name, folder, tmp, lengths, 16)
            except Exception as e:
                res[name] = {'error': f'{type(e).__name__}: {str(e)[:2000]}'}
        # Past max_position_embeddings (32): v1's dynamic NTK against transformers' dynamic rope.
        dyn = os.path.join(tmp, 'v1_dyn')
        internlm_ref.make_folder(dyn, 'internlm', seed=2, overrides={'max_position_embeddings': 32,
                                                                      'rotary': {'type': 'dynamic', 'base': 10000, 'scaling_factor': 2.0}})
        v2 = os.path.join(tmp, 'v2')
        internlm_ref.make_folder(v2, 'internlm2', seed=3, overrides={'max_position_embeddings': 2048})
        for name, folder, lengths in (('internlm_v1_dynamic_past_max_pos', dyn, (24, 80)), ('internlm2', v2, (40,))):
            try:
                res[name] = compare(name, folder, tmp, lengths, 8 if 'dynamic' in name else 16)
            except Exception as e:
                res[name] = {'error': f'{type(e).__name__}: {str(e)[:2000]}'}
    report(res, out_dir)


def row(name, r):
    if 'error' in r:
        print(f'{name}: ERROR {r["error"][-800:]}')
        return
    diffs = '  '.join(f'{k[len("logits_max_abs_diff_"):]}={v:.2e}' for k, v in r.items() if k.startswith('logits_max'))
    cli = f"  = weft generate (CPU) {r['weft_generate_cpu_equal']}" if 'weft_generate_cpu_equal' in r else ''
    print(f"{name:34s} logits max|diff| {diffs}  greedy equal {r['greedy_equal']}{cli}  missing {len(r['missing'])} "
          f"unexpected {len(r['unexpected'])}  o_proj bias {r['o_proj_bias']}")
    if not r['greedy_equal'] or not r.get('weft_generate_cpu_equal', True):
        print('   worker      ', r['greedy_worker'])
        print('   transformers', r['greedy_transformers'])
        if 'weft_generate_cpu' in r:
            print('   weft (CPU)  ', r['weft_generate_cpu'])


def report(res, out_dir):
    print(f"torch {res['torch']}  transformers {res['transformers']}  {res['device']} {res['gpu']}")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, 'internlm_check.json'), 'w') as f:
        f.write(json.dumps(res, indent=1, default=str))  # (transformers 5 reports key sets)
    if 'train_fp16' not in res:
        return
    t = res['train_fp16']
    if 'error' in t:
        print('train fp16: ERROR', t['error'][-800:])
    else:
        print(f"train fp16 ({t['mode']}, {t['attn']}, {t['wall_s']} s): loss {t['loss_first']:.3f} -> {t['loss_last']:.3f}; "
              f"skipped steps {t['skipped_steps']}; scale {t['loss_scale'][0]:.3g} .. {t['loss_scale'][-1]:.3g}")
        print('  loss_scale per step:', ' '.join(f'{s:.0f}' for s in t['loss_scale']))
    for name in ('internlm_v1_trained', 'internlm_v1_dynamic_past_max_pos', 'internlm2'):
        row(name, res[name])


if __name__ == '__main__':
    main()
