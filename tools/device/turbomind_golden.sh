#!/usr/bin/env bash
# Golden Turbomind workspaces from lmdeploy v0.9.2's converter code (run on the GPU machine).
# Needs .carry/lmdeploy (tools/device/turbomind_carry.sh fills it from a lmdeploy checkout).
# Writes $OUT/turbomind-golden.tar.xz (the tiny HF models, the workspaces for tp=1 and tp=2,
# manifest.json) and $OUT/turbomind-golden.log.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-$PWD/out}"
mkdir -p "$OUT"
WORK="$(mktemp -d)"
export HF_HOME="$WORK/hf-home" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
PY="${PYTHON:-python3}"
"$PY" -c 'import torch, transformers, safetensors, yaml; print("torch", torch.__version__, "transformers", transformers.__version__, "cuda", torch.cuda.is_available())'
"$PY" tools/device/turbomind_golden.py --lmdeploy .carry --work "$WORK/golden" "$@" > "$WORK/log.txt" 2>&1
echo "golden script rc=$?"
cp "$WORK/log.txt" "$OUT/turbomind-golden.log"
grep -v -e '^\*\*\*' -e '^###' "$WORK/log.txt" | tail -n 60
tar -C "$WORK" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cJf "$OUT/turbomind-golden.tar.xz" golden
ls -l "$OUT/turbomind-golden.tar.xz"
"$PY" - "$WORK/golden/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print({k: v for k, v in m.items() if k != 'cases'})
print({c: ('ERROR' if 'error' in v else len(v['files'])) for c, v in m['cases'].items()})
PY
