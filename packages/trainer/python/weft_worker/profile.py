"""Where one training step's GPU time goes, by kernel family (set WEFT_PROFILE_STEP=N on a GPU run).

The benchmark uses it to say what limits MFU: GEMMs, attention, fused elementwise (Triton), the
optimizer, or the rest. Prints one `@weft-profile {json}` line to stderr.
"""
import json
import sys

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
            sys.stderr.write('@weft-profile ' + json.dumps({
                'step': self.step, 'gpu_ms_by_family': {k: round(v, 2) for k, v in sorted(fams.items(), key=lambda x: -x[1])},
                'gpu_ms_total': round(sum(fams.values()), 2),
                'top_kernels': [{'ms': round(t, 2), 'name': n, 'family': f, 'calls': c} for t, n, f, c in top[:25]]}) + '\n')
            sys.stderr.flush()
        except Exception as e:
            sys.stderr.write(f'weft: profile summary failed ({type(e).__name__}: {e})\n')
        return False
