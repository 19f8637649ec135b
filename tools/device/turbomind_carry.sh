#!/usr/bin/env bash
# Copy the lmdeploy v0.9.2 files that tools/device/turbomind_golden.py imports into .carry/ (git-ignored).
# Usage: tools/device/turbomind_carry.sh <lmdeploy git dir or checkout>
set -euo pipefail
cd "$(dirname "$0")/../.."
R="$1"
TAG=v0.9.2
files="lmdeploy/archs.py lmdeploy/utils.py lmdeploy/messages.py lmdeploy/version.py lmdeploy/turbomind/supported_models.py lmdeploy/turbomind/turbomind.py $(git -C "$R" ls-tree -r --name-only "$TAG" lmdeploy/turbomind/deploy/)"
for p in $files; do
  mkdir -p ".carry/$(dirname "$p")"
  git -C "$R" show "$TAG:$p" > ".carry/$p"
done
git -C "$R" show "$TAG:LICENSE" > .carry/lmdeploy/LICENSE
echo "carried $(echo $files | wc -w) files into .carry/lmdeploy"
