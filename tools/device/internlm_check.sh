#!/usr/bin/env bash
# Device run (GPU box: torch 2.x CUDA, transformers 5.x; no Node): InternLM v1/v2 through the worker
# against transformers — fp16 training with the dynamic loss scale, logits, greedy generation.
# Prints a table; $OUT/internlm_check.json has the numbers. Needs nothing but this checkout (or a
# copy of packages/trainer/python, tools/reference/internlm_ref.py and tools/device/ in the same layout:
# tools/device/internlm_carry.sh makes one).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-$(mktemp -d)}"
python3 tools/device/internlm_check.py "$OUT" "$@" 2>"$OUT/internlm_check.stderr" || { tail -40 "$OUT/internlm_check.stderr"; exit 1; }
