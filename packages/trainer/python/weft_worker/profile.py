"""Where one training step's GPU time goes, by kernel family (set WEFT_PROFILE_STEP=N on a GPU run).

The benchmark uses it to say what limits MFU: GEMMs, attention, fused elementwise (Triton), the
optimizer, or the rest. Prints one `@weft-profile {json}` line to stderr.
"""
import bisect
import gzip
import json
import os
import sys
import time

import torch

FAMILIES = (  # first match wins; kernel names as cuBLAS / flash / inductor / PyTorch emit them
    ('attention', ('flash', 'fmha', 'flex', 'attention')),
    ('gemm', ('gemm', 'nvjet', 'cutlass', 'xmma', 'cublas', 'sm90_', 'sm80_')),
    ('optimizer', ('adam', 'multi_tensor', 'foreach', 'l2norm', 'norm_kernel')),
    ('triton (fused elementwise / norms / loss)', ('triton',)),
    ('copy / cast', ('copy', 'cast', 'convert')),
)


def family(name):
    low = name.lower()
    for fam, keys in FAMILIES:
        if any(k in low for k in keys):
            return fam
    return 'other'


class StepProfiler:
    """Context manager: profiles what runs inside it when `active`, then reports per-family times."""

    def __init__(self, active, step):
        self.active, self.step, self.prof = active, step, None

    def __enter__(self):
        if self.active:
            try:
                from torch.profiler import ProfilerActivity, profile
                self.prof = profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA])
                self.prof.__enter__()
            except Exception as e:  # a profiler problem must not stop training
                sys.stderr.write(f'weft: profiler unavailable ({type(e).__name__}: {e})\n')
                self.prof = None
        return self

    def __exit__(self, *exc):
        if self.prof is None:
            return False
        try:
            torch.cuda.synchronize()
            self.prof.__exit__(None, None, None)
            fams, top = {}, []
            for e in self.prof.key_averages():
                if not str(getattr(e, 'device_type', '')).endswith('CUDA'):
                    continue
                if getattr(e, 'is_user_annotation', False) or '#' in e.key:  # e.g. the GPU range of
                    continue  # 'Optimizer.step#AdamW.step': it spans kernels that are counted already
                us = getattr(e, 'self_device_time_total', None)
                if us is None:
                    us = getattr(e, 'self_cuda_time_total', 0)
                if not us:
                    continue
                f = family(e.key)
                fams[f] = fams.get(f, 0.0) + us / 1e3
                top.append((us / 1e3, e.key[:90], f, e.count))
            top.sort(reverse=True)
            cpu = {}
            for e in self.prof.key_averages():  # host time inside FSDP2's hooks and the optimizer
                if e.key.startswith(('FSDP::', 'Optimizer.', 'weft::')):
                    cpu[e.key] = round(getattr(e, 'cpu_time_total', 0) / 1e3, 2)
            idle = None
            try:
                import tempfile
                fd, path = tempfile.mkstemp(suffix='.json')
                os.close(fd)
                self.prof.export_chrome_trace(path)
                with open(path) as f:
                    trace = json.load(f)
                os.unlink(path)
                idle = idle_gaps(trace)
                where = os.environ.get('WEFT_PROFILE_TRACE')
                if where:  # the trace itself, for a closer look (chrome://tracing, perfetto)
                    os.makedirs(where, exist_ok=True)
                    with gzip.open(os.path.join(where, f'trace-{os.environ.get("WEFT_PROFILE_NAME", os.getpid())}.json.gz'), 'wt') as f:
                        json.dump(trace, f)
            except Exception as e:
                sys.stderr.write(f'weft: idle-gap report failed ({type(e).__name__}: {e})\n')
            sys.stderr.write('@weft-profile ' + json.dumps({
                'step': self.step, 'gpu_ms_by_family': {k: round(v, 2) for k, v in sorted(fams.items(), key=lambda x: -x[1])},
                'gpu_ms_total': round(sum(fams.values()), 2), 'cpu_ms': cpu, 'gpu_idle': idle,
                'top_kernels': [{'ms': round(t, 2), 'name': n, 'family': f, 'calls': c} for t, n, f, c in top[:25]]}) + '\n')
            sys.stderr.flush()
        except Exception as e:
            sys.stderr.write(f'weft: profile summary failed ({type(e).__name__}: {e})\n')
        return False


GPU_CATS = ('kernel', 'gpu_memcpy', 'gpu_memset')
LAUNCH_CATS = ('cuda_runtime', 'cuda_driver')


def idle_gaps(trace, min_us=10.0):
    """Where the GPU waits for the host, from a profiler trace (chrome format): the gaps between
    device activity inside the profiled window, each charged to what the host was doing when it
    launched the work that ended the gap: the step region (weft::NAME ranges, HostTimes), the
    innermost other annotation (e.g. FSDP::post_backward_reduce) and the outermost operator."""
    ev = [e for e in (trace.get('traceEvents', []) if isinstance(trace, dict) else trace) if e.get('ph') == 'X']
    gpu = sorted((float(e['ts']), float(e['ts']) + float(e.get('dur', 0)), (e.get('args') or {}).get('correlation'))
                 for e in ev if e.get('cat') in GPU_CATS)
    regions = sorted((float(e['ts']), float(e['ts']) + float(e.get('dur', 0)), e['name'][len('weft::'):])
                     for e in ev if e.get('cat') == 'user_annotation' and str(e.get('name', '')).startswith('weft::'))
    if not gpu:
        return None
    start = regions[0][0] if regions else gpu[0][0]
    end = gpu[-1][1]
    gaps, cur = [], start
    for s, e, corr in gpu:
        if s - cur >= min_us:
            gaps.append((cur, s, corr))
        cur = max(cur, e)
    # the host stack at each launch that ended a gap: one sweep over each thread's nested ranges
    want = {corr for _, _, corr in gaps if corr is not None}
    stacks = {}
    host = sorted((e for e in ev if e.get('cat') in ('cpu_op', 'user_annotation') + LAUNCH_CATS),
                  key=lambda e: (e.get('tid'), float(e['ts']), -float(e.get('dur', 0))))
    stack, tid = [], None
    for e in host:
        if e.get('tid') != tid:
            stack, tid = [], e.get('tid')
        ts = float(e['ts'])
        while stack and float(stack[-1]['ts']) + float(stack[-1].get('dur', 0)) < ts:
            stack.pop()
        if e.get('cat') in LAUNCH_CATS:
            corr = (e.get('args') or {}).get('correlation')
            if corr in want:
                stacks[corr] = (ts, [x for x in stack])
            continue
        stack.append(e)
    starts = [r[0] for r in regions]

    def region_at(t):
        i = bisect.bisect_right(starts, t) - 1
        return regions[i][2] if i >= 0 and regions[i][1] >= t else 'outside'

    by_region, by_what, total = {}, {}, 0.0
    for g0, g1, corr in gaps:
        ms = (g1 - g0) / 1e3
        total += ms
        t, st = stacks.get(corr, (g1, []))
        reg = region_at(t)
        ann = next((x['name'] for x in reversed(st) if x.get('cat') == 'user_annotation' and not x['name'].startswith('weft::')), '')
        op = next((x['name'] for x in st if x.get('cat') == 'cpu_op'), '')
        by_region[reg] = by_region.get(reg, 0.0) + ms
        key = f'{reg} | {ann} | {op}'[:120]
        by_what[key] = by_what.get(key, 0.0) + ms
    return {'window_ms': round((end - start) / 1e3, 2), 'idle_ms': round(total, 2), 'gaps': len(gaps),
            'by_region': {k: round(v, 2) for k, v in sorted(by_region.items(), key=lambda x: -x[1])},
            'top': [[k, round(v, 2)] for k, v in sorted(by_what.items(), key=lambda x: -x[1])[:15]]}


class HostTimes:
    """Host (CPU) milliseconds per region of a training step: perf_counter between marks, with no
    device sync, so a region's time is what the host spent issuing it (or blocked in it). With
    `annotate`, each region is also a profiler range `weft::NAME` (idle_gaps charges GPU idle time
    to them). Off: `go` returns at once."""

    def __init__(self, on):
        self.on, self.ms, self.cur, self.t, self.rf, self.annotate = on, {}, None, 0.0, None, False

    def start(self, annotate=False):
        self.ms, self.cur, self.annotate = {}, None, annotate and self.on

    def go(self, name):
        if not self.on:
            return
        now = time.perf_counter()
        if self.cur is not None:
            self.ms[self.cur] = self.ms.get(self.cur, 0.0) + (now - self.t) * 1e3
        if self.rf is not None:
            self.rf.__exit__(None, None, None)
            self.rf = None
        self.cur, self.t = name, now
        if name is not None and self.annotate:
            self.rf = torch.profiler.record_function('weft::' + name)
            self.rf.__enter__()

    def result(self):
        return {k: round(v, 2) for k, v in self.ms.items()}
