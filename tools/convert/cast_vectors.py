"""Reference casts from torch, for weft's dtype conversion test.

    /usr/bin/python3 cast_vectors.py   # prints JSON of hex byte strings

Values: random normals at several scales, fp16 subnormals and overflow, exact ties for
round-to-nearest-even, infinities, signed zeros and NaNs.
"""
import json
import struct

import torch

g = torch.Generator().manual_seed(0)
vals = [0.0, -0.0, 1.0, -1.0, 65504.0, 65520.0, 65519.99, 1e5, -1e5, 6e-8, 5.96e-8, 2.98e-8, 3e-8, 1e-10,
        6.1e-5, 6.09e-5, float("inf"), float("-inf"), float("nan"), 3.4e38, 1.17e-38, 1e-45]
# exact ties: for bf16 the dropped 16 bits are 0x8000; for fp16 the dropped 13 bits are 0x1000
for bits in (0x3F808000, 0x3F818000, 0x3F800000 | 0x1000, 0x3F800000 | 0x3000, 0x33000000, 0x33800000, 0x387FE000):
    vals.append(struct.unpack("<f", struct.pack("<I", bits))[0])
x = torch.tensor(vals, dtype=torch.float32)
x = torch.cat([x, torch.randn(200, generator=g), torch.randn(200, generator=g) * 1e4, torch.randn(200, generator=g) * 1e-6])
h = x.half()
b = x.bfloat16()


def hx(t):
    t = t.contiguous()
    if t.dtype in (torch.bfloat16, torch.float16):
        return t.view(torch.int16).numpy().tobytes().hex()
    return t.numpy().tobytes().hex()


print(json.dumps({
    "f32": hx(x), "f32_bf16": hx(b), "f32_f16": hx(h),
    "bf16_f32": hx(b.float()), "f16_f32": hx(h.float()),
    "bf16_f16": hx(b.half()), "f16_bf16": hx(h.bfloat16()),
    "f64": hx(x.double() * 1.0000001), "f64_bf16": hx((x.double() * 1.0000001).bfloat16()), "f64_f16": hx((x.double() * 1.0000001).half()),
}))
