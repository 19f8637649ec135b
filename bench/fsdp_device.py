"""FSDP2 on the machines we have: CPU ranks (gloo), one GPU, and sharded (DCP) checkpoints.

    python3 bench/fsdp_device.py cpu --out $OUT        # 1 vs 2 vs 4 CPU ranks, kill + resume on another count
    python3 bench/fsdp_device.py fixture --out DIR     # the tiny 2-rank DCP checkpoint the convert tests read
    python3 bench/fsdp_device.py gpu-bench --out $OUT  # one GPU: FSDP2 vs the single-GPU path, the 1.1B benchmark
    python3 bench/fsdp_device.py gpu-dcp --out $OUT    # tiny model, FSDP2 on the GPU: DCP checkpoint + the worker's logits
    python3 bench/fsdp_device.py hf-logits --hf DIR --out $OUT  # transformers' logits of a converted folder vs the worker's

Every run drives the real worker (`python -m weft_worker.train`) from recorded feed frames
(`WEFT_FEED=file:...`), as bench/train_gpu.py does: the GPU box has no Node. Rank r of a run on W
ranks with A micro batches per step gets, at sampler position p, pack p*W + r (the InternRepo
sampler's layout); W*A = 4 packs per step for every W, so every run trains on the same packs.
Prints compact tables; writes $OUT/fsdp-<section>.json.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np

from train_gpu import rank_stderrs, read_rows  # this folder is sys.path[0] when run as a script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, 'packages', 'trainer', 'python')
sys.path.insert(0, WORKER)

TINY = dict(model_type='llama', vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=10000.0,
            max_position_embeddings=1024, tie_word_embeddings=False)
GLOBAL = 4  # packs per optimizer step, for every rank count
_port = [29700]


def make_packs(n, length, vocab, seed):
    rng = np.random.RandomState(seed)
    packs = []
    for _ in range(n):
        lens, total = [], 0
        while total < length:
            d = min(length - total, int(rng.randint(4, max(5, length // 2))))
            lens.append(d)
            total += d
        ids = rng.randint(1, vocab, size=length).astype(np.int32)
        labels = ids.copy()
        labels[rng.rand(length) < 0.2] = -100  # some prompt tokens
        cu = np.concatenate([[0], np.cumsum(lens)]).astype(np.int32)
        pos = np.concatenate([np.arange(d) for d in lens]).astype(np.int32)
        packs.append((ids, labels, cu, pos))
    return packs


def write_feeds(tmp, name, packs, world, accum, first_step, steps):
    from weft_worker.feed import encode_frame, end_frame
    for r in range(world):
        with open(f'{tmp}/{name}.rank{r}.bin', 'wb') as f:
            for p in range(first_step * accum, steps * accum):
                i = p * world + r
                f.write(encode_frame(*packs[i], epoch=0, index=i))
            f.write(end_frame())


def run_worker(tmp, name, cfg, world, packs=None, first_step=0, resume=None, crash_after=0, device='cpu', timeout=300):
    """Start `world` worker ranks; return rank 0's metric rows (and the exit codes)."""
    if packs is not None:
        write_feeds(tmp, name, packs, world, cfg['accumulative_counts'], first_step, cfg['total_steps'])
    cfg_path = os.path.join(tmp, f'{name}.json')
    with open(cfg_path, 'w') as f:
        json.dump(cfg, f)
    _port[0] += 1
    procs = []
    for r in range(world):
        env = dict(os.environ, RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world),
                   MASTER_ADDR='127.0.0.1', MASTER_PORT=str(_port[0]), PYTHONPATH=WORKER,
                   WEFT_FEED=f'file:{tmp}/{name}.rank{{rank}}.bin', WEFT_DEVICE=device,
                   OMP_NUM_THREADS=str(max(1, 8 // world)), WEFT_DEBUG_CRASH_AFTER_STEP=str(crash_after))
        args = [sys.executable, '-m', 'weft_worker.train', '--config', cfg_path] + (['--resume', resume] if resume else [])
        procs.append(subprocess.Popen(args, env=env, stdout=subprocess.PIPE if r == 0 else subprocess.DEVNULL,
                                      stderr=open(os.path.join(tmp, f'{name}.rank{r}.stderr'), 'w'), text=True))

    def reaper():  # a rank that died (on purpose or not) leaves its peers blocked in a collective
        t0 = time.time()
        while time.time() - t0 < timeout:
            codes = [p.poll() for p in procs]
            if all(c is not None for c in codes):
                return
            if any(c not in (None, 0) for c in codes):
                time.sleep(3)
                break
            time.sleep(0.2)
        for p in procs:
            if p.poll() is None:
                p.kill()
    th = threading.Thread(target=reaper, daemon=True)
    th.start()
    rows, start = read_rows(procs[0].stdout)
    codes = [p.wait() for p in procs]
    th.join()
    errs = rank_stderrs(tmp, name, world)
    return rows, codes, start, errs


def base_cfg(tmp, name, model, accum, steps, shard, ckpt_every=0, save_optim=True, attn='auto', compile_=False):
    return dict(model={'config': model}, seed=1024, micro_batch_size=1, accumulative_counts=accum, lr=2e-3,
                betas=[0.9, 0.95], weight_decay=0.01, warmup_ratio=0.0, eta_min=2e-4, max_norm=1.0,
                total_steps=steps, checkpoint_every=ckpt_every, max_keep_ckpts=0, save_optimizer=save_optim,
                work_dir=os.path.join(tmp, name), pack_sample_into_one=False, attn_impl=attn, compile=compile_,
                ce_chunk=0, dataset_length=10**6, shard=shard)


def must(ok, what, errs=()):
    if not ok:
        raise SystemExit(f'FAILED: {what}\n' + '\n'.join(e[-3000:] for e in errs))


def section_cpu(args):
    """CPU ranks with gloo: the same packs on 1 (no sharding), 1/2/4 (FSDP2) ranks; then a 4-rank run
    killed after its step-4 checkpoint and resumed on 2 and on 1 rank(s)."""
    import torch
    tmp = '/tmp/weft-fsdp-cpu'
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    steps = 8
    packs = make_packs(steps * GLOBAL, 128, TINY['vocab_size'], seed=7)
    runs, out = {}, {'torch': torch.__version__}
    plan = [('1 rank, none', 1, 'none'), ('1 rank, fsdp2', 1, 'fsdp2'), ('2 ranks, fsdp2', 2, 'fsdp2'), ('4 ranks, fsdp2', 4, 'fsdp2')]
    for label, world, shard in plan:
        name = f'w{world}-{shard}'
        t0 = time.time()
        rows, codes, start, errs = run_worker(tmp, name, base_cfg(tmp, name, TINY, GLOBAL // world, steps, shard), world, packs)
        must(codes == [0] * world and len(rows) == steps, f'{label}: exit codes {codes}, {len(rows)} steps', errs)
        must(start['mode'] == ('fsdp2' if shard == 'fsdp2' else 'single') and start['device'] == 'cpu', f'{label}: started as {start}')
        must(shard != 'fsdp2' or start.get('fsdp_optim') == 'local shards', f'{label}: optimizer not stepped on local shards: {start}')
        runs[label] = rows
        print(f'{label}: {time.time() - t0:.1f} s, mode {start["mode"]}, units {start.get("fsdp_unit_blocks")}, optimizer {start.get("fsdp_optim")}', flush=True)
    # killed after the step-4 checkpoint (the last rank exits on purpose), resumed on other rank counts
    name = 'w4-killed'
    rows_k, codes, _, errs = run_worker(tmp, name, base_cfg(tmp, name, TINY, 1, steps, 'fsdp2', ckpt_every=4), 4, packs, crash_after=4)
    ck = os.path.join(tmp, name, 'iter_4.dcp')
    must(os.path.isfile(os.path.join(ck, '.metadata')) and codes[-1] == 3, f'killed run: codes {codes}, checkpoint {os.listdir(os.path.join(tmp, name))}', errs)
    must(not os.path.exists(os.path.join(tmp, name, 'iter_8.dcp')), 'killed run went on past its kill')
    for world in (2, 1):
        label = f'4 ranks killed at 4, resumed on {world}'
        nm = f'resume-w{world}'
        rows, codes, start, errs = run_worker(tmp, nm, base_cfg(tmp, nm, TINY, GLOBAL // world, steps, 'fsdp2'), world, packs,
                                              first_step=4, resume=ck)
        must(codes == [0] * world and len(rows) == steps - 4 and start['start_step'] == 4, f'{label}: codes {codes}, {len(rows)} steps', errs)
        runs[label] = rows_k[:4] + rows
    ref = runs['1 rank, none']
    lines = ['| run | steps | loss step 1 | loss step 4 | loss step 8 | max abs Δloss vs 1 rank | max rel Δgrad-norm | tokens per step equal |',
             '| --- | --- | --- | --- | --- | --- | --- | --- |']
    worst = 0.0
    for label, rows in runs.items():
        dl = max(abs(a['loss'] - b['loss']) for a, b in zip(rows, ref))
        dg = max(abs(a['grad_norm'] - b['grad_norm']) / b['grad_norm'] for a, b in zip(rows, ref))
        same_tokens = all(a['num_consumed_tokens'] == b['num_consumed_tokens'] for a, b in zip(rows, ref))
        worst = max(worst, dl)
        lines.append(f"| {label} | {len(rows)} | {rows[0]['loss']:.6f} | {rows[3]['loss']:.6f} | {rows[-1]['loss']:.6f} | {dl:.2e} | {dg:.2e} | {same_tokens} |")
    table = '\n'.join(lines)
    print(table, flush=True)
    out.update(table=table, runs=runs, worst_abs_loss_diff=worst)
    # fp32 on CPU: the only differences are the order of the gradient sums (reduce-scatter over ranks vs
    # accumulation on one rank), a few ulp per step, amplified by 8 AdamW steps at lr 2e-3.
    tol = 1e-4
    out['tolerance'] = tol
    print(f'worst |Δloss| {worst:.2e} (bound {tol:g}, fp32): {"PASS" if worst <= tol else "FAIL"}', flush=True)
    with open(os.path.join(args.out, 'fsdp-cpu.json'), 'w') as f:
        json.dump(out, f, indent=1)


FIX = dict(model_type='llama', vocab_size=33, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
           num_attention_heads=2, num_key_value_heads=1, rms_norm_eps=1e-5, rope_theta=10000.0,
           max_position_embeddings=64, tie_word_embeddings=False)


def section_fixture(args):
    """A tiny DCP checkpoint written by the real worker on 2 CPU ranks (vocab 33: uneven shards, 17 + 16
    rows), and what PyTorch's own DCP loader reads back from it, as plain numbers (expected.json)."""
    import torch
    tmp = '/tmp/weft-fsdp-fixture'
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    packs = make_packs(2 * GLOBAL, 32, FIX['vocab_size'], seed=3)
    rows, codes, _, errs = run_worker(tmp, 'fix', base_cfg(tmp, 'fix', FIX, 2, 2, 'fsdp2', ckpt_every=2), 2, packs)
    must(codes == [0, 0], f'fixture run: codes {codes}', errs)
    ck = os.path.join(tmp, 'fix', 'iter_2.dcp')
    dest = os.path.join(args.out, 'dcp-fixture')
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(ck, dest)
    expected = {k: {'shape': list(v.shape), 'dtype': str(v.dtype), 'values': v.flatten().tolist()} for k, v in read_dcp_model(ck).items()}
    with open(os.path.join(dest, 'expected.json'), 'w') as f:
        json.dump({'torch': torch.__version__, 'model': FIX, 'tensors': expected}, f)
    print('fixture:', sorted(os.listdir(dest)), sum(os.path.getsize(os.path.join(dest, x)) for x in os.listdir(dest)), 'bytes', flush=True)


def read_dcp_model(path):
    """The model part of a DCP checkpoint as plain full tensors, read by PyTorch's DCP loader in one
    process (no process group), keyed as the worker's model: what the converter must reproduce."""
    import torch
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint import FileSystemReader
    md = FileSystemReader(path).read_metadata()
    state = {}
    for k, m in md.state_dict_metadata.items():
        if k.startswith('model.') and hasattr(m, 'size'):
            state[k] = torch.empty(tuple(m.size), dtype=m.properties.dtype)
    dcp.load(state, checkpoint_id=path)
    return {k[len('model.'):]: v for k, v in state.items()}


GPU_VARIANTS = {  # name: (worker settings, env); the first is the reference every other row is divided by
    'single': (dict(compile_='block', ce_chunk=2048), {}),
    # FSDP2 as before this change: a unit per block, AdamW stepped on the DTensors
    'fsdp2-units1-dtensor-opt': (dict(compile_='block', ce_chunk=2048, shard='fsdp2'), {'WEFT_FSDP_UNIT_BLOCKS': '1', 'WEFT_FSDP_LOCAL_OPTIM': '0'}),
    'fsdp2-units1-local-opt': (dict(compile_='block', ce_chunk=2048, shard='fsdp2'), {'WEFT_FSDP_UNIT_BLOCKS': '1'}),
    'fsdp2-units4-local-opt': (dict(compile_='block', ce_chunk=2048, shard='fsdp2'), {'WEFT_FSDP_UNIT_BLOCKS': '4'}),
    'fsdp2-root-dtensor-opt': (dict(compile_='block', ce_chunk=2048, shard='fsdp2'), {'WEFT_FSDP_UNIT_BLOCKS': '0', 'WEFT_FSDP_LOCAL_OPTIM': '0'}),
    'fsdp2-root-local-opt': (dict(compile_='block', ce_chunk=2048, shard='fsdp2'), {'WEFT_FSDP_UNIT_BLOCKS': '0'}),
    'fsdp2-default': (dict(compile_='block', ce_chunk=2048, shard='fsdp2'), {}),
    'fsdp2-units4-dtensor-opt': (dict(compile_='block', ce_chunk=2048, shard='fsdp2'), {'WEFT_FSDP_UNIT_BLOCKS': '4', 'WEFT_FSDP_LOCAL_OPTIM': '0'}),
    # the host waits for the device after every step (as before the overlap): the MFU lever's baseline
    'single-sync': (dict(compile_='block', ce_chunk=2048), {'WEFT_STEP_SYNC': '1'}),
    'fsdp2-default-sync': (dict(compile_='block', ce_chunk=2048, shard='fsdp2'), {'WEFT_STEP_SYNC': '1'}),
}


def section_gpu_bench(args):
    """The 1.1B benchmark (bench/train_gpu.py's model and packs): the single-GPU path against FSDP2 on
    one rank in several settings, all in this one run; host milliseconds per step region for each."""
    import numpy as np
    import train_gpu as tg
    tmp = '/tmp/weft-train-bench'
    os.makedirs(tmp, exist_ok=True)
    n = args.warmup + args.steps + 2
    tg.write_frames(tg.make_packs(n, seed=100), f'{tmp}/frames.rank0.bin')
    names = (args.variants or 'single,fsdp2-units1-dtensor-opt,fsdp2-root-local-opt').split(',')
    profiled = set((args.profile_variants or '').split(','))
    results = []
    for name in names:
        kw, env = GPU_VARIANTS[name.split('@')[0]]
        env = dict(env, WEFT_PROFILE_TRACE=os.path.join(args.out, 'traces')) if name in profiled else env
        try:
            r = tg.run_weft(args, name, tmp, timeout=240, profile=name in profiled, env=env, **kw)
        except Exception as e:
            print(f'FAILED {name}: {str(e)[-3000:]}', flush=True)
            continue
        p = r.pop('profile', None)
        if p:
            print(f"{name}: GPU time of one step {p['gpu_ms_total']:.1f} ms (step {r['step_s'] * 1e3:.1f} ms): "
                  + ', '.join(f'{k} {v:.1f}' for k, v in p['gpu_ms_by_family'].items()), flush=True)
            print(f"    host ms in ranges: {json.dumps(p.get('cpu_ms'))}", flush=True)
            idle = p.get('gpu_idle')
            if idle:
                print(f"    GPU idle {idle['idle_ms']} ms of a {idle['window_ms']} ms window ({idle['gaps']} gaps); by region {json.dumps(idle['by_region'])}", flush=True)
                for k, v in idle['top'][:10]:
                    print(f'      {v:7.2f} ms  {k}', flush=True)
            r['profile_families'] = p['gpu_ms_by_family']
            r['gpu_idle'] = idle
            r['cpu_ms'] = p.get('cpu_ms')
        results.append(r)
        print(json.dumps({k: v for k, v in r.items() if k not in ('gpu_idle', 'cpu_ms')}), flush=True)
    ref = results[0]['tokens_per_s_per_gpu'] if results and results[0]['variant'].startswith('single') else None
    regions = []
    for r in results:
        for k in r.get('host_ms', {}):
            if k not in regions:
                regions.append(k)
    first = results[0]['variant'] if results else ''
    lines = [f'| variant | mode | units | optimizer | tokens/s | vs {first} | MFU work done | step (ms) | peak mem (GiB) | loss first→last | '
             + ' | '.join(f'host {k}' for k in regions) + ' |', '|' + ' --- |' * (10 + len(regions))]
    for r in results:
        st = r.get('start') or {}
        lines.append(f"| {r['variant']} | {r['mode']} | {st.get('fsdp_unit_blocks', '')} | {st.get('fsdp_optim', '')} | "
                     f"{r['tokens_per_s_per_gpu']:.0f} | {r['tokens_per_s_per_gpu'] / ref if ref else float('nan'):.3f} | {100 * r['mfu']:.1f}% | "
                     f"{r['step_s'] * 1e3:.1f} | {r['max_mem_gb']:.1f} | {r['loss_first']:.3f}→{r['loss_last']:.3f} | "
                     + ' | '.join(f"{r.get('host_ms', {}).get(k, 0):.1f}" for k in regions) + ' |')
    # repeated variants (NAME@2) averaged; each against `single` (or `single-sync` for the -sync rows)
    by = {}
    for r in results:
        by.setdefault(r['variant'].split('@')[0], []).append(r['tokens_per_s_per_gpu'])
    mean = {k: sum(v) / len(v) for k, v in by.items()}
    lines.append('')
    for k, v in mean.items():
        ref_name = 'single-sync' if k.endswith('-sync') else 'single'
        ratio = f'{v / mean[ref_name]:.3f}' if ref_name in mean else 'n/a'
        lines.append(f"- {k}: {v:.0f} tokens/s (mean of {len(by[k])}: {', '.join(f'{x:.0f}' for x in by[k])}), {ratio} of {ref_name}")
    print('\n'.join(lines), flush=True)
    print('host columns: median host (CPU) ms per step in each region, no device sync inside the step; "sync" is the wait '
          'for the device at the step end (GPU-bound time), the other columns are the host issuing work', flush=True)
    with open(os.path.join(args.out, 'fsdp-gpu-bench.json'), 'w') as f:
        json.dump({'results': results, 'table': '\n'.join(lines)}, f, indent=1)


SMALL = dict(model_type='llama', vocab_size=1024, hidden_size=256, intermediate_size=512, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=10000.0,
             max_position_embeddings=1024, tie_word_embeddings=False, architectures=['LlamaForCausalLM'])


def section_gpu_dcp(args):
    """FSDP2 on the GPU (one rank), 3 steps, a sharded checkpoint; then the worker's model, loaded from
    that checkpoint by PyTorch's DCP loader, gives the logits transformers must match."""
    import torch
    from weft_worker.model import Decoder, ModelConfig
    tmp = '/tmp/weft-fsdp-gpu'
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    packs = make_packs(3 * GLOBAL, 256, SMALL['vocab_size'], seed=5)
    # weights only: the optimizer state would make the folder too large to bring back (the fixture has one)
    rows, codes, start, errs = run_worker(tmp, 'g', base_cfg(tmp, 'g', SMALL, GLOBAL, 3, 'fsdp2', ckpt_every=3, save_optim=False), 1, packs,
                                          device='auto')
    must(codes == [0] and start['mode'] == 'fsdp2' and start['device'].startswith('cuda'), f'gpu fsdp2 run: codes {codes}, start {start}', errs)
    ck = os.path.join(tmp, 'g', 'iter_3.dcp')
    dest = os.path.join(args.out, 'gpu-dcp')
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(ck, dest)
    base = os.path.join(args.out, 'gpu-base')
    os.makedirs(base, exist_ok=True)
    with open(os.path.join(base, 'config.json'), 'w') as f:
        json.dump(dict(SMALL, torch_dtype='float32'), f, indent=1)
    sd = read_dcp_model(ck)
    model = Decoder(ModelConfig.from_hf(SMALL), 'math').cuda().float()
    model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    ids = torch.from_numpy(np.random.RandomState(11).randint(1, SMALL['vocab_size'], size=64)).cuda()
    with torch.no_grad():
        logits = model(ids, torch.arange(64, device='cuda'), torch.tensor([0, 64], dtype=torch.int32, device='cuda'), 64)
    np.save(os.path.join(args.out, 'worker-logits.npy'), logits.float().cpu().numpy())
    np.save(os.path.join(args.out, 'logits-ids.npy'), ids.cpu().numpy())
    print(f'gpu-dcp: {len(rows)} steps, loss {rows[0]["loss"]:.4f}→{rows[-1]["loss"]:.4f}; checkpoint files {sorted(os.listdir(dest))}', flush=True)


def section_hf_logits(args):
    import torch
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(args.hf, torch_dtype=torch.float32, attn_implementation='eager').cuda().eval()
    ids = torch.from_numpy(np.load(os.path.join(args.logits, 'logits-ids.npy'))).cuda()
    want = np.load(os.path.join(args.logits, 'worker-logits.npy'))
    with torch.no_grad():
        got = model(input_ids=ids[None]).logits[0].float().cpu().numpy()
    diff = float(np.abs(got - want).max())
    tol = 1e-3 * max(1.0, float(np.abs(want).max()))
    print(f'transformers vs worker logits ({want.shape}): max |Δ| {diff:.2e}, max |logit| {np.abs(want).max():.2f}, '
          f'bound {tol:.1e} (fp32; TF32 matmuls off): {"PASS" if diff <= tol else "FAIL"}', flush=True)
    with open(os.path.join(args.out, 'fsdp-hf-logits.json'), 'w') as f:
        json.dump({'max_abs_diff': diff, 'tolerance': tol, 'shape': list(want.shape)}, f)


def section_e2e_compare(args):
    """`weft train` (TypeScript launcher + feed) with FSDP2 on CPU ranks: run A on 2 ranks for 8 steps;
    run B killed after its step-4 checkpoint on 2 ranks and resumed (--resume auto) on 1 rank."""
    def rows(d):
        with open(os.path.join(d, 'metrics.jsonl')) as f:
            return {r['step']: r for r in (json.loads(line) for line in f if line.strip())}
    a, b = rows(args.a), rows(args.b)
    lines = ['| step | loss, 2 ranks uninterrupted | loss, killed at 4 on 2 ranks, resumed on 1 | abs Δ |', '| --- | --- | --- | --- |']
    worst = 0.0
    for s in sorted(a):
        d = abs(a[s]['loss'] - b[s]['loss']) if s in b else float('inf')
        worst = max(worst, d)
        lines.append(f"| {s} | {a[s]['loss']:.6f} | {b[s]['loss'] if s in b else float('nan'):.6f} | {d:.1e} |")
    table = '\n'.join(lines)
    print(table)
    print(f'steps {sorted(a)} vs {sorted(b)}; worst |Δloss| {worst:.2e} (bound 1e-4, fp32): {"PASS" if len(a) == 8 and worst <= 1e-4 else "FAIL"}', flush=True)
    with open(os.path.join(args.out, 'fsdp-e2e.json'), 'w') as f:
        json.dump({'table': table, 'worst': worst}, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('section', choices=['cpu', 'fixture', 'gpu-bench', 'gpu-dcp', 'hf-logits', 'e2e-compare'])
    ap.add_argument('--out', required=True)
    ap.add_argument('--hf')
    ap.add_argument('--logits')
    ap.add_argument('--a')
    ap.add_argument('--b')
    ap.add_argument('--variants', help='comma-separated GPU_VARIANTS names (NAME@2 runs NAME again), in this order')
    ap.add_argument('--profile-variants', help='comma-separated variants whose last warm-up step is profiled')
    ap.add_argument('--steps', type=int, default=20)
    ap.add_argument('--warmup', type=int, default=8)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    {'cpu': section_cpu, 'fixture': section_fixture, 'gpu-bench': section_gpu_bench, 'gpu-dcp': section_gpu_dcp,
     'hf-logits': section_hf_logits, 'e2e-compare': section_e2e_compare}[args.section](args)


if __name__ == '__main__':
    main()
