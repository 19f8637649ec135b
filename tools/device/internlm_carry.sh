#!/usr/bin/env bash
# Copy what internlm_check.sh needs into DEST (same layout), for a device run from another checkout.
#     tools/device/internlm_carry.sh DEST [--converted]
set -euo pipefail
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
DEST="$1"
rm -rf "$DEST" && mkdir -p "$DEST/packages/trainer" "$DEST/tools/reference" "$DEST/tools/device"
cp -r "$SRC/packages/trainer/python" "$DEST/packages/trainer/"
find "$DEST" -name __pycache__ -prune -exec rm -rf {} +
cp "$SRC/tools/reference/internlm_ref.py" "$DEST/tools/reference/"
cp "$SRC/tools/device/internlm_check.py" "$SRC/tools/device/internlm_check.sh" "$DEST/tools/device/"
# --converted: also folders written here by weft convert internlm-to-hf (internlm_check.py --converted DEST/converted)
if [ "${2:-}" = "--converted" ]; then
  cp "$SRC/tools/device/internlm_convert_here.sh" "$DEST/tools/device/"
  "$SRC/tools/device/internlm_convert_here.sh" "$DEST/converted"
fi
