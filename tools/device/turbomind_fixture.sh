#!/usr/bin/env bash
# Turn the device run's turbomind-golden.tar.xz into the committed test fixture:
# packages/convert/test/fixtures/turbomind/ gets the tiny HF models (safetensors gzipped), the
# manifest (sha256 + size of every file lmdeploy wrote, per case) and each case's config.yaml.
# Usage: tools/device/turbomind_fixture.sh <turbomind-golden.tar.xz> [dest]
set -euo pipefail
cd "$(dirname "$0")/../.."
ARCHIVE="$(realpath "$1")"
DEST="${2:-packages/convert/test/fixtures/turbomind}"
T="$(mktemp -d)"
tar -C "$T" -xJf "$ARCHIVE"
rm -rf "$DEST/hf" "$DEST/config" "$DEST/manifest.json"
mkdir -p "$DEST/hf" "$DEST/config"
for m in "$T"/golden/hf/*; do
  name="$(basename "$m")"
  mkdir -p "$DEST/hf/$name"
  for f in "$m"/*; do
    if [[ "$f" == *.safetensors ]]; then gzip -9 -n -c "$f" > "$DEST/hf/$name/$(basename "$f").gz"; else cp "$f" "$DEST/hf/$name/"; fi
  done
done
for c in "$T"/golden/tm/*; do cp "$c/triton_models/weights/config.yaml" "$DEST/config/$(basename "$c").yaml"; done
cp "$T/golden/manifest.json" "$DEST/manifest.json"
rm -rf "$T"
du -sh "$DEST"
