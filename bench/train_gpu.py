"""GPU benchmark of weft's training worker against HF transformers, same model, same packs.

1.1B Llama (hidden 2048, 22 layers, 32 heads, 4 KV heads, intermediate 5632, vocab 32000), random
init, 8192-token packs with real document boundaries (synthetic documents, log-normal lengths).
The weft worker is the real one (`python -m weft_worker.train`), fed from a recording of feed
frames (`WEFT_FEED=file:...`, the exact bytes the TypeScript feed sends) because the GPU box may
have no Node. HF reference: LlamaForCausalLM (sdpa), same packs, same batch, bf16 autocast, fused
AdamW. Also: varlen / flex attention vs per-document attention on the GPU.

    python3 bench/train_gpu.py --out $OUT [--nproc 1] [--steps 20] [--warmup 8]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, 'packages', 'trainer', 'python')
sys.path.insert(0, WORKER)

MODEL = dict(model_type='llama', vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
             num_attention_heads=32, num_key_value_heads=4, rms_norm_eps=1e-5, rope_theta=10000.0,
             max_position_embeddings=8192, tie_word_embeddings=False)
PACK = 8192
PEAK_BF16 = 989.4e12  # H100/H200 SXM dense bf16


def read_rows(stdout):
    """Rank 0's metrics from its stdout: the step rows, and the start event (or None)."""
    rows, start = [], None
    for line in stdout:
        if line.startswith('@weft-metrics '):
            m = json.loads(line[len('@weft-metrics '):])
            if m.get('event') == 'start':
                start = m
            elif 'loss' in m:
                rows.append(m)
    return rows, start


def rank_stderrs(tmp, name, n):
    """What each of n ranks of run `name` wrote on stderr."""
    return [open(os.path.join(tmp, f'{name}.rank{r}.stderr')).read() for r in range(n)]


def make_packs(n, seed):
    """Packs of PACK tokens filled with documents of log-normal length (median ~500, long tail), the
    last document of a pack cut at the boundary; positions restart per document."""
    rng = np.random.RandomState(seed)
    packs = []
    for _ in range(n):
        lens, total = [], 0
        while total < PACK:
            d = int(min(PACK, max(8, rng.lognormal(math.log(500), 1.3))))
            d = min(d, PACK - total)
            lens.append(d)
            total += d
        ids = rng.randint(1, MODEL['vocab_size'], size=PACK).astype(np.int32)
        cu = np.concatenate([[0], np.cumsum(lens)]).astype(np.int32)
        pos = np.concatenate([np.arange(d) for d in lens]).astype(np.int32)
        packs.append((ids, ids.copy(), cu, pos))
    return packs


def flops_per_pack(p, n_params_noembed):
    docs = np.diff(p[2]).astype(np.float64)
    return 6 * n_params_noembed * PACK + 6 * MODEL['hidden_size'] * MODEL['num_hidden_layers'] * float((docs ** 2).sum())


def write_frames(packs, path):
    from weft_worker.feed import encode_frame, end_frame
    with open(path, 'wb') as f:
        for i, p in enumerate(packs):
            f.write(encode_frame(*p, epoch=0, index=i))
        f.write(end_frame())


def n_params_all():
    h, i, L, v = MODEL['hidden_size'], MODEL['intermediate_size'], MODEL['num_hidden_layers'], MODEL['vocab_size']
    kv = MODEL['num_key_value_heads'] * h // MODEL['num_attention_heads']
    per_layer = 2 * h * h + 2 * h * kv + 3 * h * i + 2 * h
    return L * per_layer + 2 * v * h + h


def nominal_flops_per_token():
    """The usual headline count (what the issue's "50% MFU = about 56k tokens/s" assumes): 6 x all
    parameters (embeddings included) per token, plus causal attention over the whole pack as if it
    were one document (6 x hidden x layers x pack length per token). With document masking most of
    that attention is never computed, so this overstates the work done."""
    return 6 * n_params_all() + 6 * MODEL['hidden_size'] * MODEL['num_hidden_layers'] * PACK


def run_weft(args, name, tmp, nproc=1, accum=1, micro=1, compile_='parts', precision='bf16', ce_chunk=0,
             attn='auto', timeout=150, profile=False, shard='auto', env=None):
    warmup, steps = (args.warmup, args.steps) if accum * micro == 1 else (max(3, args.warmup // 2), max(4, args.steps // 2))
    cfg = dict(model={'config': MODEL}, seed=1024, micro_batch_size=micro, accumulative_counts=accum, lr=3e-4, betas=[0.9, 0.95],
               weight_decay=0.01, warmup_ratio=0.0, eta_min=3e-5, max_norm=1.0, total_steps=warmup + steps,
               checkpoint_every=-1, max_keep_ckpts=0, save_optimizer=True, work_dir=os.path.join(tmp, name),  # -1: never save
               pack_sample_into_one=False, attn_impl=attn, compile=compile_, precision=precision, ce_chunk=ce_chunk,
               dataset_length=10**6, shard=shard)
    cfg_path = os.path.join(tmp, f'{name}.json')
    with open(cfg_path, 'w') as f:
        json.dump(cfg, f)
    procs = []
    for r in range(nproc):
        env = dict(os.environ, RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE=str(nproc), LOCAL_WORLD_SIZE=str(nproc),
                   MASTER_ADDR='127.0.0.1', MASTER_PORT=str(29600 + (hash(name) % 200)), PYTHONPATH=WORKER,
                   WEFT_FEED=f'file:{tmp}/frames.rank{{rank}}.bin', NCCL_NVLS_ENABLE='0',
                   TORCH_SYMM_MEM_DISABLE_MULTICAST='1', NVSHMEM_DISABLE_NVLS='1', TORCH_LOGS='recompiles',
                   WEFT_PROFILE_STEP=str(warmup if profile else 0),  # the last warm-up step: not in the timing
                   WEFT_PROFILE_NAME=name, WEFT_HOST_TIMES='1', **(env or {}))
        err = open(os.path.join(tmp, f'{name}.rank{r}.stderr'), 'w')
        procs.append(subprocess.Popen([sys.executable, '-m', 'weft_worker.train', '--config', cfg_path], env=env,
                                      stdout=subprocess.PIPE if r == 0 else subprocess.DEVNULL, stderr=err, text=True))
    import threading
    killed = []

    def kill():  # a variant that hangs or recompiles every step must not eat the whole run
        killed.append(True)
        for p in procs:
            p.kill()
    timer = threading.Timer(timeout, kill)
    timer.start()
    rows, start = read_rows(procs[0].stdout)
    codes = [p.wait() for p in procs]
    timer.cancel()
    errs = rank_stderrs(tmp, name, nproc)
    if killed:
        raise RuntimeError(f'{name}: killed after {timeout} s ({len(rows)} steps done)\n' + errs[0][-2000:])
    if any(codes):
        raise RuntimeError(f'{name}: worker exit codes {codes}\n' + '\n'.join(e[-3000:] for e in errs))
    meas = rows[warmup:]
    step = float(np.median([r['step_time_s'] for r in meas]))
    tokens = PACK * accum * micro  # per rank per step
    tf = float(np.median([r['tflops'] for r in meas]))
    notes = [] if not start or start.get('native_gqa') is None else [f"native GQA: {start.get('native_gqa')}"]
    if 'torch.compile failed' in errs[0]:
        notes.append('compile fell back to eager: ' + errs[0].split('torch.compile failed', 1)[1][:200].replace('\n', ' '))
    recompiles = errs[0].count('Recompiling function')
    prof = None
    for line in errs[0].splitlines():
        if line.startswith('@weft-profile '):
            prof = json.loads(line[len('@weft-profile '):])
    return {'variant': name, 'ranks': nproc, 'packs_per_step': accum * micro, 'micro_batch': micro, 'attention': start and start.get('attn'),
            'mode': start and start.get('mode'), 'compile': compile_, 'ce_chunk': ce_chunk,
            'step_s': step, 'tokens_per_s_per_gpu': tokens / step, 'tflops_per_gpu': tf,
            'mfu': tf * 1e12 / PEAK_BF16, 'mfu_nominal': tokens / step * nominal_flops_per_token() / PEAK_BF16,
            'data_wait_share': sum(r['data_wait_s'] for r in meas) / sum(r['step_time_s'] for r in meas),
            'loss_first': rows[0]['loss'], 'loss_last': rows[-1]['loss'], 'max_mem_gb': max(r.get('max_mem_gb', 0) for r in meas),
            'compile_warmup_s': sum(r['step_time_s'] for r in rows[:warmup]), 'recompiles': recompiles, 'notes': '; '.join(notes),
            'profile': prof, 'start': start,
            # host milliseconds per step region (median over the timed steps; no device sync inside a step)
            'host_ms': {k: round(float(np.median([r.get('host_ms', {}).get(k, 0.0) for r in meas])), 2)
                        for k in (meas[0].get('host_ms') or {})} if meas else {}}


def run_hf(args, packs):
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig
    dev = torch.device('cuda')
    hcfg = LlamaConfig(**{k: v for k, v in MODEL.items() if k != 'model_type'})
    torch.manual_seed(0)
    with dev:
        model = AutoModelForCausalLM.from_config(hcfg, attn_implementation='sdpa')
    model.train()
    n_noembed = sum(p.numel() for p in model.parameters()) - model.get_input_embeddings().weight.numel()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.01, fused=True)
    times, losses, fl = [], [], []
    for i in range(args.warmup + args.steps):
        ids, labels, cu, pos = packs[i]
        t0 = time.perf_counter()
        x = torch.from_numpy(ids.astype(np.int64))[None].to(dev)
        y = torch.from_numpy(labels.astype(np.int64))[None].to(dev)
        p = torch.from_numpy(pos.astype(np.int64))[None].to(dev)
        with torch.autocast('cuda', dtype=torch.bfloat16):
            out = model(input_ids=x, labels=y, position_ids=p)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        losses.append(out.loss.item())
        fl.append(flops_per_pack(packs[i], n_noembed))
    meas = slice(args.warmup, None)
    step = float(np.median(times[meas]))
    tf = float(np.median(np.array(fl[meas]) / np.array(times[meas]))) / 1e12
    return {'variant': 'hf-transformers-sdpa', 'ranks': 1, 'packs_per_step': 1, 'attention': 'sdpa (causal over the whole pack: HF sdpa ignores document boundaries)',
            'mode': 'autocast', 'step_s': step, 'tokens_per_s_per_gpu': PACK / step, 'tflops_per_gpu': tf,
            'mfu': tf * 1e12 / PEAK_BF16, 'mfu_nominal': PACK / step * nominal_flops_per_token() / PEAK_BF16,
            'data_wait_share': 0.0, 'loss_first': losses[0], 'loss_last': losses[-1],
            'max_mem_gb': torch.cuda.max_memory_allocated() / 2**30, 'micro_batch': 1, 'compile': 'none', 'ce_chunk': 0,
            'compile_warmup_s': float(sum(times[:args.warmup])), 'recompiles': 0, 'notes': ''}


def attention_check():
    import torch
    from weft_worker.attention import attention
    sys.path.insert(0, os.path.join(WORKER, 'tests'))
    from check_attention import per_document
    out = []
    torch.manual_seed(0)
    cu = torch.tensor([0, 700, 701, 2900, 5000, 8192], dtype=torch.int32)
    q, k, v = (torch.randn(8192, h, 64, dtype=torch.bfloat16, device='cuda') for h in (32, 4, 4))
    ref = per_document(q.float().cpu(), k.float().cpu(), v.float().cpu(), cu)
    max_len = int((cu[1:] - cu[:-1]).max())  # 3192: flash computes only max_q rows per document
    # bf16 inputs and output: each output element is off by up to ~1 bf16 ulp of its size (<= 2^-8 relative).
    tol = 4 * 2 ** -8 * ref.abs().max().item()
    # 'varlen-bound': max_seqlen = the whole pack (an upper bound), as the whole-block-compiled worker passes it
    for impl, ml in (('varlen', max_len), ('varlen-bound', 8192), ('flex', max_len)):
        try:
            o = attention(q, k, v, cu.cuda(), ml, impl.split('-')[0])
            diff = (o.double().cpu() - ref).abs().max().item()
            out.append({'impl': impl, 'max_seqlen': ml, 'max_abs_diff_vs_per_document': diff, 'tolerance': tol, 'ok': diff <= tol})
            if impl.startswith('varlen'):
                from weft_worker.attention import varlen_setup
                out[-1]['kv_heads_passed_unrepeated'] = bool(varlen_setup()['native_gqa'])
        except Exception as e:  # report and go on: one missing kernel should not sink the run
            out.append({'impl': impl, 'error': f'{type(e).__name__}: {str(e)[:300]}', 'ok': False})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--nproc', type=int, default=1)
    ap.add_argument('--steps', type=int, default=20)
    ap.add_argument('--warmup', type=int, default=8)
    ap.add_argument('--cpu-smoke', action='store_true', help='tiny model on CPU: checks the plumbing only')
    args = ap.parse_args()
    if args.cpu_smoke:
        global PACK
        PACK = 256
        MODEL.update(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    os.makedirs(args.out, exist_ok=True)
    import torch
    tmp = '/tmp/weft-train-bench'
    os.makedirs(tmp, exist_ok=True)
    info = {'torch': torch.__version__, 'gpu': torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu',
            'gpus': torch.cuda.device_count(),
            'node': subprocess.run(['sh', '-c', 'command -v node || true'], capture_output=True, text=True).stdout.strip() or None,
            'feed': 'recorded feed frames replayed from a file (WEFT_FEED=file:...), same bytes as the TypeScript feed'}
    print(json.dumps(info), flush=True)
    # enough for the accumulation variant too
    n = max(args.warmup + args.steps, 4 * (max(3, args.warmup // 2) + max(4, args.steps // 2))) + 2
    packs_by_rank = [make_packs(n, seed=100 + r) for r in range(max(1, args.nproc))]
    for r, packs in enumerate(packs_by_rank):
        write_frames(packs, f'{tmp}/frames.rank{r}.bin')
    docs = np.concatenate([np.diff(p[2]) for p in packs_by_rank[0]])
    info['docs'] = {'per_pack': len(docs) / n, 'median_len': float(np.median(docs)), 'mean_len': float(docs.mean()), 'max_len': int(docs.max())}
    results, errors = [], []
    t0 = time.time()
    try:
        info['attention_check'] = attention_check() if not args.cpu_smoke else 'skipped (cpu smoke)'
        print(json.dumps(info['attention_check']), flush=True)
    except Exception as e:
        errors.append(f'attention check: {e}')
    # Each row adds one change to the row above it (run 2's configuration first).
    # Run in order of importance (the budget may cut the tail); the table says what each change bought.
    variants = [
        ('weft-autocast-parts', dict(precision='autocast', compile_='parts', profile=True)),  # run 2: fp32 params + autocast, compiled pieces
        ('weft-bf16-parts', dict(compile_='parts')),  # + bf16 params/activations, fp32 master weights
        ('weft-bf16-block-ce2k', dict(compile_='block', ce_chunk=2048, timeout=180, profile=True)),  # + whole blocks compiled (varlen inside) + chunked CE
        ('weft-bf16-block-ce2k-micro2', dict(compile_='block', ce_chunk=2048, micro=2, timeout=180)),  # + 2 packs per forward
        ('weft-bf16-parts-ce2k', dict(compile_='parts', ce_chunk=2048)),  # chunked CE alone (vs bf16-parts)
        ('weft-bf16-block', dict(compile_='block', timeout=180)),  # whole blocks, plain compiled CE (vs bf16-block-ce2k)
        ('weft-bf16-parts-flex-ce2k', dict(compile_='parts', ce_chunk=2048, attn='flex')),  # FlexAttention, mask built once per pack
    ]
    if args.nproc > 1:
        variants = [('weft-fsdp2-varlen-compiled', dict(nproc=args.nproc)), ('weft-1gpu-varlen-compiled', dict())]
    budget = float(os.environ.get('WEFT_BENCH_BUDGET_S', '300'))  # HF still has to run after these
    for name, kw in variants:
        if time.time() - t0 > budget:
            errors.append(f'{name}: skipped, the run is past its {budget:.0f} s budget')
            print(f'SKIPPED {name}: past the time budget', flush=True)
            continue
        kw = dict(kw, timeout=max(60, min(kw.get('timeout', 150), budget + 60 - (time.time() - t0))))
        try:
            r = run_weft(args, name, tmp, **kw)
            results.append(r)
            print(json.dumps(r), flush=True)
        except Exception as e:
            errors.append(str(e)[-4000:])
            print(f'FAILED {name}: {str(e)[-4000:]}', flush=True)
    if args.nproc == 1 and not args.cpu_smoke:
        try:
            r = run_hf(args, packs_by_rank[0])
            results.append(r)
            print(json.dumps(r), flush=True)
        except Exception as e:
            errors.append(f'hf: {type(e).__name__}: {str(e)[-2000:]}')
            print(f'FAILED hf: {e}', flush=True)
    info['wall_s'] = time.time() - t0
    lines = ['| variant | mode | compile | CE chunk | packs/step | attention | tokens/s/GPU | TFLOPS/GPU | MFU (work done) | MFU (nominal) | step (s) | '
             'data wait | peak mem (GiB) | loss first→last | warm-up (s) | recompiles | notes |',
             '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    for r in results:
        lines.append(f"| {r['variant']} | {r['mode']} | {r['compile']} | {r['ce_chunk']} | {r['packs_per_step']} | {r['attention']} | "
                     f"{r['tokens_per_s_per_gpu']:.0f} | {r['tflops_per_gpu']:.0f} | {100 * r['mfu']:.1f}% | {100 * r['mfu_nominal']:.1f}% | "
                     f"{r['step_s']:.3f} | {100 * r['data_wait_share']:.2f}% | {r['max_mem_gb']:.1f} | "
                     f"{r['loss_first']:.3f}→{r['loss_last']:.3f} | {r['compile_warmup_s']:.0f} | {r['recompiles']} | {r['notes']} |")
    for e in errors:
        lines.append(f"| FAILED: {e.splitlines()[0][:150] if e else '?'} | | | | | | | | | | | | | | | | |")
    hf = next((r for r in results if r['variant'].startswith('hf')), None)
    weft_rows = [r for r in results if r['variant'].startswith('weft')]
    best = max(weft_rows, key=lambda r: r['tokens_per_s_per_gpu']) if weft_rows else None
    summary = '\n'.join(lines)
    if hf and best:
        summary += f"\n\nbest weft ({best['variant']}) / HF tokens/s: {best['tokens_per_s_per_gpu'] / hf['tokens_per_s_per_gpu']:.2f}x"
    if args.nproc > 1 and len(results) >= 2:
        summary += f"\n\nFSDP2 scaling efficiency ({args.nproc} GPUs vs 1): {results[0]['tokens_per_s_per_gpu'] / results[1]['tokens_per_s_per_gpu']:.2f}"
    summary += ('\n\nMFU (work done) counts 6·N (non-embedding params incl. lm_head) per token plus the document-masked causal '
                'attention actually computed (6·hidden·layers·Σ doc_len² per pack). MFU (nominal) counts 6·N with embeddings '
                f'({n_params_all() / 1e9:.3f}B) plus causal attention over the whole {PACK}-token pack, '
                f'{nominal_flops_per_token() / 1e9:.2f} GFLOP per token: the count behind "50% MFU = about 56k tokens/s". '
                'Both against 989.4 TFLOP/s dense bf16.')
    for r in results:
        p = r.get('profile')
        if p:
            summary += (f"\n\nGPU time of one step of {r['variant']} (profiler, step {p['step']}): {p['gpu_ms_total']:.1f} ms of kernels; "
                        + ', '.join(f'{k} {v:.1f} ms' for k, v in p['gpu_ms_by_family'].items()))
            summary += '\n' + '\n'.join(f"    {k['ms']:7.2f} ms {k['calls']:5d}x [{k['family']}] {k['name']}" for k in p['top_kernels'][:12])
    print('\n' + summary)
    with open(os.path.join(args.out, 'train-gpu.md'), 'w') as f:
        f.write(f"# weft trainer GPU benchmark\n\n```\n{json.dumps(info, indent=1)}\n```\n\n{summary}\n")
        if errors:
            f.write('\n## errors\n\n```\n' + '\n\n'.join(errors) + '\n```\n')
    with open(os.path.join(args.out, 'train-gpu.json'), 'w') as f:
        json.dump({'info': info, 'results': results, 'errors': errors}, f, indent=1)


if __name__ == '__main__':
    main()
