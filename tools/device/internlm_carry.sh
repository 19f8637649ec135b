#!/usr/bin/env bash
# Copy what internlm_check.sh needs into DEST (same layout), for a device run from another checkout.
set -euo pipefail
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
DEST="$1"
rm -rf "$DEST" && mkdir -p "$DEST/packages/trainer" "$DEST/tools/reference" "$DEST/tools/device"
cp -r "$SRC/packages/trainer/python" "$DEST/packages/trainer/"
find "$DEST" -name __pycache__ -prune -exec rm -rf {} +
cp "$SRC/tools/reference/internlm_ref.py" "$DEST/tools/reference/"
cp "$SRC/tools/device/internlm_check.py" "$SRC/tools/device/internlm_check.sh" "$DEST/tools/device/"
