"""A second, independent safetensors writer (standard library + torch for the tensor bytes), so
weft's reader is tested on files it did not write: tensors in insertion order (not weft's dtype
order), an odd-sized tensor before a 4-byte one (unaligned offsets are legal), no __metadata__,
and a header padded with trailing spaces. Prints the expected bytes as JSON.

    /usr/bin/python3 write_safetensors.py OUT.safetensors
"""
import json
import struct
import sys

import torch

NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64", torch.uint8: "U8", torch.bool: "BOOL"}
g = torch.Generator().manual_seed(5)
tensors = {
    "b.bias": torch.randn(3, generator=g).bfloat16(),
    "a.weight": torch.randn(2, 5, generator=g),
    "mask": torch.tensor([True, False, True]),
    "ids": torch.tensor([7, -1], dtype=torch.int64),
    "half": torch.randn(1, 1, 3, generator=g).half(),
    "empty": torch.zeros(0, 4),
}


def raw(t):
    t = t.contiguous()
    return (t.view(torch.int16) if t.dtype in (torch.bfloat16, torch.float16) else t).numpy().tobytes()


header, data = {}, b""
for name, t in tensors.items():
    b = raw(t)
    header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [len(data), len(data) + len(b)]}
    data += b
h = json.dumps(header).encode() + b"   "
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + data)
print(json.dumps({k: {"dtype": NAMES[t.dtype], "shape": list(t.shape), "hex": raw(t).hex()} for k, t in tensors.items()}))
