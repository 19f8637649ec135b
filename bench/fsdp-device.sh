#!/bin/bash
# FSDP2 proof runs on the GPU box (`device` tool), which has PyTorch 2.11 and transformers but no Node.
#
#   bash bench/fsdp-device.sh pack CARRY_DIR     # here: Node 20, a production node_modules, this checkout
#   bash CARRY_DIR/run.sh [sections...]          # there: unpack under /tmp/weft, run, results in $OUT
#
# Sections (default: all but the last, in this order): cpu fixture gpu-dcp convert hf-logits gpu-bench e2e.
#   cpu        bench/fsdp_device.py cpu: CPU ranks (gloo) 1 vs 2 vs 4, kill + resume on another rank count
#   fixture    the tiny DCP checkpoint of packages/convert/test/fixtures/dcp-tiny (tarred into $OUT)
#   gpu-dcp    FSDP2 on the GPU, a sharded checkpoint, the worker's logits
#   convert    `weft convert pth-to-hf` of that checkpoint (the sharded folder read directly)
#   hf-logits  transformers loads the converted folder; its logits against the worker's
#   gpu-bench  the 1.1B benchmark: FSDP2 on one GPU vs the single-GPU path, host ms per step region.
#              GPU_VARIANTS=a,b,c picks bench/fsdp_device.py's GPU_VARIANTS (the first should be `single`);
#              GPU_PROFILE=a,b profiles those variants' last warm-up step (GPU idle gaps, traces in $OUT/traces)
#   e2e        `weft train --shard fsdp2` on CPU ranks: 2 ranks uninterrupted vs killed at 4 and resumed on 1 rank
set -euo pipefail
if [ "${1:-}" = pack ]; then
  [ -n "${2:-}" ] || { echo "usage: $0 pack CARRY_DIR" >&2; exit 2; }
  root=$(cd "$(dirname "$0")/.." && pwd)
  carry=$(mkdir -p "$2" && cd "$2" && pwd)
  echo '*' > "$carry/.gitignore"
  . "$root/tools/device/node-carry.sh"
  carry_node "$carry"
  carry_prod_modules "$root" "$carry"
  # the working tree as it is (tracked and untracked, not ignored), so uncommitted work travels too
  (cd "$root" && git ls-files -co --exclude-standard -z | tar --null -T - -cf - | xz -1 > "$carry/src.tar.xz")
  cp "$0" "$carry/run.sh"
  du -sh "$carry"
  exit 0
fi

# Device side.
C=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/weft-fsdp-out}
mkdir -p /tmp/nb /tmp/weft "$OUT"
xz -dc "$C/node.xz" > /tmp/nb/node && chmod +x /tmp/nb/node
export PATH=/tmp/nb:$PATH PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
tar xJf "$C/src.tar.xz" -C /tmp/weft && tar xJf "$C/nm.tar.xz" -C /tmp/weft
cd /tmp/weft
sections=${*:-cpu fixture gpu-dcp convert hf-logits gpu-bench}
log=$OUT/fsdp-device.log
python3 -c 'import torch, sys; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "python", sys.version.split()[0])' | tee -a "$log"
G=/tmp/weft-gdcp
for s in $sections; do
  echo "=== $s ($(date -u +%T))" | tee -a "$log"
  case $s in
    cpu) python3 bench/fsdp_device.py cpu --out "$OUT" 2>&1 | tee -a "$log" || true ;;
    gpu-bench) python3 bench/fsdp_device.py gpu-bench --out "$OUT" --warmup ${GPU_WARMUP:-6} --steps ${GPU_STEPS:-14} \
                 --variants "${GPU_VARIANTS:-single,fsdp2-units1-dtensor-opt,fsdp2-default}" --profile-variants "${GPU_PROFILE:-}" 2>&1 | tee -a "$log" || true ;;
    e2e) E=/tmp/weft-fsdp-e2e; rm -rf $E-a $E-b
         W() { WEFT_DEVICE=cpu node packages/cli/bin/weft.mjs train bench/fsdp-e2e.config.ts "$@" 2>&1 | tail -4 | tee -a "$log"; }
         WEFT_WORK=$E-a WEFT_ACCUM=2 W --nproc-per-node 2 || true
         WEFT_WORK=$E-b WEFT_ACCUM=2 WEFT_DEBUG_CRASH_AFTER_STEP=4 W --nproc-per-node 2 || true
         ls $E-b | tee -a "$log"
         WEFT_WORK=$E-b WEFT_ACCUM=4 W --nproc-per-node 1 --resume auto || true
         python3 bench/fsdp_device.py e2e-compare --a $E-a --b $E-b --out "$OUT" 2>&1 | tee -a "$log" || true ;;
    fixture) python3 bench/fsdp_device.py fixture --out /tmp/weft-fx 2>&1 | tee -a "$log" \
               && tar cf "$OUT/dcp-fixture.tar" -C /tmp/weft-fx dcp-fixture || true ;;
    gpu-dcp) python3 bench/fsdp_device.py gpu-dcp --out $G 2>&1 | tee -a "$log" \
               && tar cf "$OUT/gpu-dcp.tar" -C $G . && tar cf "$OUT/gpu-dcp-metadata.tar" -C $G gpu-dcp/.metadata gpu-dcp/weft_keys.json || true ;;
    convert) rm -rf $G/hf && node packages/cli/bin/weft.mjs convert pth-to-hf $G/gpu-base $G/gpu-dcp $G/hf --quiet 2>&1 | tee -a "$log" \
               && ls -la $G/hf | tee -a "$log" || true ;;
    hf-logits) python3 bench/fsdp_device.py hf-logits --hf $G/hf --logits $G --out "$OUT" 2>&1 | grep -v Warning | tee -a "$log" || true ;;
  esac
done
