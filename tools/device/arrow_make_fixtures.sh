#!/usr/bin/env bash
# Regenerate tools/device/arrow-fixtures/: Arrow folders written by weft for every case of the
# packing golden (packages/pack/test/fixtures/packing.json), for tools/device/arrow_check.py to
# load with pyarrow on the GPU machine (which has pyarrow but no node).
#   case<i>/          weft pack output (case 1 split into several small shards)
#   dict/             weft process --format internlm output of case 1: a DatasetDict, one split per file
set -euo pipefail
cd "$(dirname "$0")/../.."
out=tools/device/arrow-fixtures
golden=packages/pack/test/fixtures/packing.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$out"; mkdir -p "$out"
python3 - "$golden" "$work" <<'PY'
import json, os, sys, numpy as np
cases = json.load(open(sys.argv[1]))
for ci, c in enumerate(cases):
    d = os.path.join(sys.argv[2], f"case{ci}")
    os.makedirs(d)
    for f, lines in enumerate(c["files"]):
        path = os.path.join(d, "%03d.bin" % f)
        meta, off = [], 0
        with open(path, "wb") as o:
            for t in lines:
                b = (json.dumps({"tokens": t}) + "\n").encode()
                meta.append((off, len(t))); o.write(b); off += len(b)
        np.save(open(path + ".meta", "wb"), np.array(meta, dtype=np.int64).reshape(-1, 2))
    print(ci, c["packed_length"], c["seed"], c["min_length"], file=open(os.path.join(sys.argv[2], f"case{ci}.args"), "w"))
PY
for args in "$work"/case*.args; do
  ci=$(basename "$args" .args); read -r _ L S M < "$args"
  shard=$([ "$ci" = case1 ] && echo 20000 || echo 524288000)
  npx weft pack "$work/$ci" --packed-length "$L" --seed "$S" --min-length "$M" --max-shard-size "$shard" --quiet --out "$out/$ci" > /dev/null
  rm -f "$out/$ci/weft_stats.json"
done
npx weft process "$work/case1" --format internlm --quiet --out "$work/dict" > /dev/null
mkdir -p "$out/dict"
cp "$work/dict/samples/dataset_dict.json" "$out/dict/"
for s in "$work"/dict/samples/[0-9]*; do cp -r "$s" "$out/dict/"; rm -f "$out/dict/$(basename "$s")/weft_stats.json"; done
du -sh "$out"
