#!/usr/bin/env bash
# For `internlm_check.py --converted DEST` on the GPU box (which has no Node): InternLM training
# checkpoint fixtures (tp 2 × pp 2; v1 with bias, v2 fp16 with interleaved wqkv rows) converted by
# this checkout's `weft convert internlm-to-hf`, and `weft generate --json` run on CPU beside them
# (weft_generate.json). Needs Node and a torch Python (Debian's /usr/bin/python3); ~1 MB in all.
#
#     tools/device/internlm_convert_here.sh DEST
set -euo pipefail
cd "$(dirname "$0")/../.."
DEST="$1"
PY="${WEFT_PYTHON:-/usr/bin/python3}"
SPM=packages/tokenize/test/fixtures/spm/bpe.model  # 1000 pieces = the fixtures' vocabulary
FX="$(mktemp -d)"
trap 'rm -rf "$FX"' EXIT
rm -rf "$DEST" && mkdir -p "$DEST"
"$PY" tools/convert/make_internlm_fixtures.py "$FX" --vocab 1000 --cases v1_tp2_pp2,v2_tp2_pp2_permute_fp16 >/dev/null
weft() { node packages/cli/bin/weft.mjs "$@"; }
V1="$FX/v1_tp2_pp2" V2="$FX/v2_tp2_pp2_permute_fp16"
weft convert internlm-to-hf "$V1" "$DEST/v1_tp2_pp2" --tokenizer "$SPM" --quiet
weft convert internlm-to-hf "$V2" "$DEST/v2_tp2_pp2_fp16" --tokenizer "$SPM" --quiet
# max_position_embeddings 32: transformers' dynamic NTK against the worker's past it (logits at T 80)
weft convert internlm-to-hf "$V1" "$DEST/v1_tp2_pp2_dynamic_maxpos32" --rotary-type dynamic --scaling-factor 2 --max-position-embeddings 32 --quiet
weft convert internlm-to-hf "$V2" "$DEST/v2_tp2_pp2_fp16_maxpos32" --max-position-embeddings 32 --quiet
for d in v1_tp2_pp2:internlm_chat v2_tp2_pp2_fp16:internlm2_chat; do
  weft generate "$DEST/${d%%:*}" --prompt 'Hello world' --template "${d#*:}" --max-new-tokens 16 --device cpu --json > "$DEST/${d%%:*}/weft_generate.json"
done
du -sh "$DEST"
