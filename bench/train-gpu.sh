#!/usr/bin/env bash
# weft trainer GPU benchmark (run on the GPU box through the `device` tool's `run`):
#   bash bench/train-gpu.sh        # one GPU: weft worker (compiled / eager) vs HF transformers sdpa
#   bash bench/train-gpu.sh 2      # two GPUs (nvidia-h200-x2): FSDP2 scaling vs one GPU
# Writes $OUT/train-gpu.md (results table) and $OUT/train-gpu.json.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/weft-bench-out}
mkdir -p "$OUT"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 bench/train_gpu.py --out "$OUT" --nproc "${1:-1}" ${WEFT_BENCH_ARGS:-} 2>&1 | tee "$OUT/train-gpu.log"
