"""Make the checkpoints weft's converter tests read, with the PyTorch that CI installs
(Debian python3-torch). Run at test time:

    /usr/bin/python3 make_fixtures.py OUT_DIR

Writes, for a tiny llama and a tiny internlm2 in fp32/bf16/fp16:
  <arch>_<dtype>.pth                 plain state dict, with a tied (shared) tensor and
                                     non-contiguous views (a transpose, a strided slice)
  <arch>_<dtype>.expected.pth        the same tensors under their HF names, contiguous
  weft_work_dir/                     weft trainer output: iter_2.pth, iter_3.pth, last_checkpoint
  xtuner_<arch>.pth                  {"state_dict": {"llm."+k}, "meta": ..., "message_hub": <object>}
  ds_zero2/                          DeepSpeed folder: latest, global_step7/mp_rank_00_model_states.pt
  ds_zero3/                          ZeRO-3 folder: per-rank model states + fp32 flat partitions
  zero3.expected.pth                 what zero_to_fp32 would reconstruct from ds_zero3
  objects.pth / objects.expected.pth torch.save of a dict holding arbitrary Python objects (+ its tensors)
  lora.pth / lora.expected.pth       xtuner LoRA state dict and PEFT's names for it
  llama_zip64.pth                    llama_fp32.pth rewritten with zip64 sizes and offsets
  legacy.pth                         the pre-1.6 non-zip format
  evil.pth                           a torch zip whose data.pkl calls os.system
  dotdot.pth                         a torch zip with an entry named archive/../evil
  deflated.pth                       a torch zip re-compressed (tensor data deflated)
  evil_p0..5.pkl                     a pickle calling os.system, in protocols 0 to 5
"""
import argparse
import collections
import io
import math
import os
import pickle
import sys
import zipfile

import numpy as np
import torch

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
H, FF, V, L = 16, 24, 32, 2


def llama(dtype, g):
    sd = collections.OrderedDict()
    sd["model.embed_tokens.weight"] = torch.randn(V, H, generator=g)
    for i in range(L):
        p = f"model.layers.{i}."
        for n in "qkvo":
            sd[p + f"self_attn.{n}_proj.weight"] = torch.randn(H, H, generator=g)
        sd[p + "mlp.gate_proj.weight"] = torch.randn(FF, H, generator=g)
        # non-contiguous: stored as the transpose of a (H, FF) tensor
        sd[p + "mlp.down_proj.weight"] = torch.randn(FF, H, generator=g).t()
        # non-contiguous: every other row of a bigger tensor, at a storage offset
        sd[p + "mlp.up_proj.weight"] = torch.randn(2 * FF + 1, H, generator=g)[1::2]
        sd[p + "input_layernorm.weight"] = torch.ones(H) + 0.01 * torch.randn(H, generator=g)
        sd[p + "post_attention_layernorm.weight"] = torch.ones(H)
    sd["model.norm.weight"] = torch.ones(H)
    sd = collections.OrderedDict((k, v.to(dtype)) for k, v in sd.items())
    sd["lm_head.weight"] = sd["model.embed_tokens.weight"]  # tied: one shared storage
    return sd


def internlm2(dtype, g):
    sd = collections.OrderedDict()
    sd["model.tok_embeddings.weight"] = torch.randn(V, H, generator=g)
    for i in range(L):
        p = f"model.layers.{i}."
        sd[p + "attention.wqkv.weight"] = torch.randn(3 * H, H, generator=g)
        sd[p + "attention.wo.weight"] = torch.randn(H, H, generator=g).t()
        sd[p + "feed_forward.w1.weight"] = torch.randn(FF, H, generator=g)
        sd[p + "feed_forward.w3.weight"] = torch.randn(FF, H, generator=g)
        sd[p + "feed_forward.w2.weight"] = torch.randn(H, FF, generator=g)
        sd[p + "attention_norm.weight"] = torch.ones(H)
        sd[p + "ffn_norm.weight"] = torch.ones(H)
    sd["model.norm.weight"] = torch.ones(H)
    sd["output.weight"] = torch.randn(V, H, generator=g)
    # views of one storage: wqkv split into three views that share it
    w = sd["model.layers.0.attention.wqkv.weight"]
    sd["model.layers.0.attention.wqkv_parts.q"] = w[:H]
    sd["model.layers.0.attention.wqkv_parts.k"] = w[H:2 * H]
    return collections.OrderedDict((k, v.to(dtype)) for k, v in sd.items())


def save_expected(sd, path):
    torch.save(collections.OrderedDict((k, v.clone().contiguous()) for k, v in sd.items()), path)


class MessageHub:
    """Stands in for mmengine's MessageHub: an object of a class the reader cannot know."""

    def __init__(self):
        self.log = {"loss": [1.0, 0.5]}
        self.runtime = argparse.Namespace(iter=7, lr=1e-4)


g = torch.Generator().manual_seed(0)
for dt_name, dt in DTYPES.items():
    for arch, fn in (("llama", llama), ("internlm2", internlm2)):
        sd = fn(dt, g)
        torch.save(sd, f"{OUT}/{arch}_{dt_name}.pth")
        save_expected(sd, f"{OUT}/{arch}_{dt_name}.expected.pth")

# weft trainer work dir: iter_<N>.pth (HF-keyed state dict) + last_checkpoint naming the newest
os.makedirs(f"{OUT}/weft_work_dir/iter_3.state", exist_ok=True)
torch.save(llama(torch.bfloat16, g), f"{OUT}/weft_work_dir/iter_2.pth")
sd = llama(torch.bfloat16, g)
torch.save(sd, f"{OUT}/weft_work_dir/iter_3.pth")
with open(f"{OUT}/weft_work_dir/last_checkpoint", "w") as f:
    f.write("iter_3.pth\n")
save_expected(sd, f"{OUT}/weft_work_dir.expected.pth")

# xtuner / mmengine: {"meta", "state_dict" with llm. prefixes, "message_hub", optimizer...}
sd = llama(torch.bfloat16, g)
torch.save({
    "meta": {"cfg": "model = dict(type='SupervisedFinetune')", "seed": 1024, "epoch": 1, "iter": 7},
    "state_dict": collections.OrderedDict(("llm." + k, v) for k, v in sd.items()),
    "message_hub": MessageHub(),
    "numpy_scalar": np.float32(0.25),
    "np_array": np.arange(3),
}, f"{OUT}/xtuner_llama.pth")
save_expected(sd, f"{OUT}/xtuner_llama.expected.pth")

# DeepSpeed ZeRO-1/2 folder, as xtuner's DeepSpeed strategy leaves it
sd = internlm2(torch.bfloat16, g)
os.makedirs(f"{OUT}/ds_zero2/global_step7", exist_ok=True)
with open(f"{OUT}/ds_zero2/latest", "w") as f:
    f.write("global_step7")
torch.save({
    "module": collections.OrderedDict(("module." + k, v) for k, v in sd.items()),
    "buffer_names": [], "optimizer": None, "param_shapes": [collections.OrderedDict((k, v.shape) for k, v in sd.items())],
    "ds_config": {"zero_optimization": {"stage": 2}}, "ds_version": "0.12.0", "global_steps": 7,
    "args": argparse.Namespace(lr=1e-4),
}, f"{OUT}/ds_zero2/global_step7/mp_rank_00_model_states.pt")
save_expected(sd, f"{OUT}/ds_zero2.expected.pth")

# DeepSpeed ZeRO-3: each rank holds ceil(numel/world) elements of every parameter (padded),
# concatenated into flat fp32 groups; param_shapes in rank 0's model states give the order.
world = 2
full = collections.OrderedDict()
full["model.embed_tokens.weight"] = torch.randn(V, H, generator=g)
full["model.layers.0.self_attn.q_proj.weight"] = torch.randn(H, H, generator=g)
full["model.layers.0.odd.bias"] = torch.randn(7, generator=g)  # 7 % 2 != 0: padded
full["model.norm.weight"] = torch.randn(H, generator=g)
full["lm_head.weight"] = torch.randn(V, 3, generator=g)
groups = [["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.odd.bias"],
          ["model.norm.weight", "lm_head.weight"]]
buffers = collections.OrderedDict([("model.rotary.inv_freq", torch.arange(4, dtype=torch.float32))])
# a frozen (not trained) parameter: each rank's model states keep a bf16 fragment of it
frozen = collections.OrderedDict([("model.frozen.weight", torch.randn(5, 3, generator=g).bfloat16())])
os.makedirs(f"{OUT}/ds_zero3/global_step3", exist_ok=True)
with open(f"{OUT}/ds_zero3/latest", "w") as f:
    f.write("global_step3")
for r in range(world):
    flat_groups = []
    for names in groups:
        parts = []
        for n in names:
            t = full[n].flatten()
            per = math.ceil(t.numel() / world)
            t = torch.cat([t, torch.zeros(per * world - t.numel())])
            parts.append(t[r * per:(r + 1) * per])
        flat_groups.append(torch.cat(parts))
    module = collections.OrderedDict((n, torch.empty(0, dtype=torch.bfloat16)) for n in full)
    module.update((k, v) for k, v in buffers.items())
    frags = collections.OrderedDict()
    for n, t in frozen.items():
        t = t.flatten()
        per = math.ceil(t.numel() / world)
        t = torch.cat([t, torch.zeros(per * world - t.numel(), dtype=t.dtype)])
        frags[n] = t[r * per:(r + 1) * per].clone()
    torch.save({
        "module": module, "buffer_names": list(buffers),
        "frozen_param_shapes": collections.OrderedDict((n, t.shape) for n, t in frozen.items()), "frozen_param_fragments": frags,
        "param_shapes": [collections.OrderedDict((n, full[n].shape) for n in names) for names in groups],
        "shared_params": [], "ds_version": "0.12.0",
    }, f"{OUT}/ds_zero3/global_step3/zero_pp_rank_{r}_mp_rank_00_model_states.pt")
    torch.save({
        "optimizer_state_dict": {"zero_stage": 3, "partition_count": world, "fp32_flat_groups": flat_groups,
                                 "loss_scaler": MessageHub()},
        "ds_version": "0.12.0",
    }, f"{OUT}/ds_zero3/global_step3/bf16_zero_pp_rank_{r}_mp_rank_00_optim_states.pt")
exp = collections.OrderedDict(buffers)
exp.update(frozen)
exp.update(full)
save_expected(exp, f"{OUT}/zero3.expected.pth")

# arbitrary Python objects around tensors
obj_tensors = collections.OrderedDict([
    ("weight", torch.arange(6, dtype=torch.float32).reshape(2, 3)),
    ("ids", torch.tensor([1, 2, 3], dtype=torch.int64)),
    ("mask", torch.tensor([True, False])),
])
save_expected(obj_tensors, f"{OUT}/objects.expected.pth")
torch.save({
    **obj_tensors,
    "ns": argparse.Namespace(a=1, b="x"),
    "hub": MessageHub(),
    "np": np.float64(1.5),
    "set": {1, 2},
    "bytes": b"\x00\xff",
    "big": 2 ** 70,
    "device": torch.device("cpu"),
    "dtype": torch.bfloat16,
    "size": torch.Size([2, 3]),
    "nested": collections.OrderedDict(a=[1, (2, 3)], b=None),
}, f"{OUT}/objects.pth")

# xtuner LoRA: get_peft_model_state_dict names under llm.
lora = collections.OrderedDict()
r_ = 4
for i in range(L):
    for n in ("q_proj", "v_proj"):
        p = f"llm.base_model.model.model.layers.{i}.self_attn.{n}."
        lora[p + "lora_A.weight"] = torch.randn(r_, H, generator=g).bfloat16()
        lora[p + "lora_B.weight"] = torch.randn(H, r_, generator=g).bfloat16()
torch.save({"state_dict": lora, "meta": {}}, f"{OUT}/lora.pth")
save_expected(collections.OrderedDict((k[len("llm."):], v) for k, v in lora.items()), f"{OUT}/lora.expected.pth")

# the pre-1.6 format
torch.save({"w": torch.ones(2)}, f"{OUT}/legacy.pth", _use_new_zipfile_serialization=False)


# hostile: data.pkl calls os.system when unpickled by pickle.load
class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {os.path.abspath(OUT)}/PWNED",))


buf = io.BytesIO()
torch.save({"w": torch.ones(2)}, buf)
with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(f"{OUT}/evil.pth", "w") as dst:
    for info in src.infolist():
        data = src.read(info)
        if info.filename.endswith("data.pkl"):
            data = pickle.dumps({"w": Evil()}, protocol=2)
        dst.writestr(info, data)
with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(f"{OUT}/dotdot.pth", "w") as dst:
    for info in src.infolist():
        dst.writestr(info, src.read(info))
    dst.writestr("archive/../evil", b"x")
# a torch zip re-compressed by a zip tool: tensor data is no longer stored
with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(f"{OUT}/deflated.pth", "w", zipfile.ZIP_DEFLATED) as dst:
    for info in src.infolist():
        dst.writestr(info.filename, src.read(info))
# the hostile pickle alone, in every protocol, for the pickle VM tests
for proto in range(6):
    with open(f"{OUT}/evil_p{proto}.pkl", "wb") as f:
        f.write(pickle.dumps({"x": Evil(), "y": [1, 2.5, "s", b"b", None, True, 2 ** 80, (1,)]}, protocol=proto))


def write_zip64(src_path, dst_path):
    """Rewrite a torch zip so every size and offset goes through zip64 fields (as torch.save does for files over 4 GB)."""
    import struct
    import zlib
    with zipfile.ZipFile(src_path) as src:
        entries = [(i.filename, src.read(i)) for i in src.infolist()]
    out = bytearray()
    central = bytearray()
    for name, data in entries:
        nb = name.encode()
        crc = zlib.crc32(data)
        off = len(out)
        extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(nb), len(extra)) + nb + extra + data
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                               len(nb), len(cextra), 0, 0, 0, 0, 0xFFFFFFFF) + nb + cextra
    cd_off = len(out)
    out += central
    eocd64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries), len(central), cd_off)
    out += struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(dst_path, "wb") as f:
        f.write(out)
    with zipfile.ZipFile(dst_path) as check:  # Python's zipfile must agree it is a valid zip64 archive
        assert [(i.filename, check.read(i)) for i in check.infolist()] == entries


write_zip64(f"{OUT}/llama_fp32.pth", f"{OUT}/llama_zip64.pth")
assert torch.equal(torch.load(f"{OUT}/llama_zip64.pth")["model.norm.weight"], torch.load(f"{OUT}/llama_fp32.pth")["model.norm.weight"])
print("ok")
