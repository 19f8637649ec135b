"""A safetensors reader in the Python standard library only: the format is an 8-byte
little-endian header length, a JSON header, then the raw little-endian tensor bytes.

    python3 read_safetensors.py model.safetensors   # prints name dtype shape per tensor
"""
import json
import os
import struct
import sys


def read_file(path):
    """Return {name: (dtype, shape, bytes)} and the __metadata__ dict of one safetensors file."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        out[name] = (info["dtype"], info["shape"], data[b:e])
    return out, meta, n


def read_checked(path):
    """read_file, asserting what transformers needs: {"format": "pt"} metadata and a data buffer on an 8-byte boundary."""
    tensors, meta, n = read_file(path)
    assert meta is not None and meta.get("format") == "pt", f"{path}: __metadata__ {meta}"
    assert (8 + n) % 8 == 0, f"{path}: data starts at {8 + n}, not 8-byte aligned"
    return tensors


def read_any(path):
    """A file, an index json, or a folder holding model.safetensors or an index (weft's output: checked)."""
    if os.path.isdir(path):
        idx = os.path.join(path, "model.safetensors.index.json")
        single = os.path.join(path, "model.safetensors")
        if os.path.exists(single):
            return read_checked(single)
        path = idx
    if path.endswith(".json"):
        with open(path) as f:
            index = json.load(f)
        out = {}
        for shard in sorted(set(index["weight_map"].values())):
            tensors = read_checked(os.path.join(os.path.dirname(path), shard))
            for k in tensors:
                assert index["weight_map"][k] == shard, k
            out.update(tensors)
        assert set(out) == set(index["weight_map"])
        return out
    return read_checked(path)


if __name__ == "__main__":
    for name, (dtype, shape, data) in read_any(sys.argv[1]).items():
        print(name, dtype, shape, len(data))
