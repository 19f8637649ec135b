"""A tiny safetensors reader/writer (stdlib + torch): the format is an 8-byte little-endian header
length, a JSON header {name: {dtype, shape, data_offsets}}, then the raw little-endian bytes."""
import json
import os
import struct

import torch

_DTYPES = {
    'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16, 'F64': torch.float64,
    'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8, 'U8': torch.uint8,
    'BOOL': torch.bool,
}
_NAMES = {v: k for k, v in _DTYPES.items()}


def load_file(path):
    """Read every tensor of one .safetensors file into CPU tensors."""
    with open(path, 'rb') as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f'{path}: byte 0: file too short for a safetensors header')
    (n,) = struct.unpack('<Q', raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f'{path}: byte 8: header length {n} runs past the end of the file ({len(raw)} bytes)')
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        dtype = _DTYPES.get(info['dtype'])
        if dtype is None:
            raise ValueError(f'{path}: tensor {name}: unsupported dtype {info["dtype"]}')
        start, end = info['data_offsets']
        if base + end > len(raw) or start > end:
            raise ValueError(f'{path}: tensor {name}: data offsets {start}..{end} outside the file')
        buf = bytearray(raw[base + start:base + end])
        t = torch.frombuffer(buf, dtype=dtype) if end > start else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info['shape'])
    return out


def load_folder(folder):
    """Read every `*.safetensors` in an HF model folder (sharded or not)."""
    files = sorted(f for f in os.listdir(folder) if f.endswith('.safetensors'))
    if not files:
        raise FileNotFoundError(f'{folder}: no *.safetensors files (expected an HF model folder)')
    state = {}
    for f in files:
        state.update(load_file(os.path.join(folder, f)))
    return state


def save_file(tensors, path):
    """Write tensors as one .safetensors file, atomically (temp + rename)."""
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to('cpu').contiguous()
        data = t.view(torch.uint8).numpy().tobytes() if t.numel() else b''
        header[name] = {'dtype': _NAMES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    hb = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hb += b' ' * (-len(hb) % 8)
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(hb)))
        f.write(hb)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)
