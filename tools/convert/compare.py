"""Compare weft's safetensors output with expected tensors, bit for bit.

    /usr/bin/python3 compare.py expected.pth out_dir [--dtype bf16|fp16|fp32]
    /usr/bin/python3 compare.py --batch < pairs.json

expected.pth is a plain state dict (torch.save) with the final names; each tensor is cast
with torch's own .to(dtype) when --dtype is given, then its bytes are compared with the bytes
the standard-library reader (read_safetensors.py) finds. Prints a JSON summary; exit 1 on mismatch.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from read_safetensors import read_any  # noqa: E402

NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
         torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}
CAST = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def tensor_bytes(t):
    t = t.contiguous()
    if t.dtype in (torch.bfloat16, torch.float16):
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def compare(expected_path, out, dtype):
    expected = torch.load(expected_path)
    got = read_any(out)
    problems = []
    for name, t in expected.items():
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        if name not in got:
            problems.append(f"missing {name}")
            continue
        dt, shape, data = got[name]
        if dt != NAMES[t.dtype] or list(shape) != list(t.shape):
            problems.append(f"{name}: {dt}{shape} != {NAMES[t.dtype]}{list(t.shape)}")
        elif data != tensor_bytes(t):
            problems.append(f"{name}: bytes differ")
    extra = sorted(set(got) - set(expected))
    problems += [f"unexpected {k}" for k in extra]
    return {"tensors": len(expected), "problems": problems}


def main():
    if sys.argv[1] == "--batch":
        # stdin: [[expected, out, dtype or null], ...] -> stdout: one result per pair (one torch import for all)
        results = []
        for expected_path, out, dtype in json.load(sys.stdin):
            try:
                results.append(compare(expected_path, out, CAST[dtype] if dtype else None))
            except Exception as e:  # a broken output is a finding, not a crash of the whole batch
                results.append({"tensors": 0, "problems": [f"{type(e).__name__}: {e}"]})
        print(json.dumps(results))
        return
    dtype = CAST[sys.argv[sys.argv.index("--dtype") + 1]] if "--dtype" in sys.argv else None
    result = compare(sys.argv[1], sys.argv[2], dtype)
    print(json.dumps(result))
    sys.exit(1 if result["problems"] else 0)


if __name__ == "__main__":
    main()
