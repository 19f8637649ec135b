"""Open a merged sharded `weft process` output with HF datasets and check it against the shards.

usage: python3 merged_shards_check.py OUT

- `datasets.load_from_disk(OUT/samples)` is one DatasetDict with a split per input file;
- each split's rows are, in order, the rows of the shards' own Arrow files (read here with
  pyarrow, straight from OUT/shards, in the order of the units the markers list);
- the splits are memory-mapped from the merged folder (no copy into a cache);
- `load_from_disk(OUT/packed)` opens the packed dataset.
Prints one JSON line with the counts.
"""
import glob
import json
import os
import sys

import datasets
import pyarrow as pa

out = sys.argv[1]
dd = datasets.load_from_disk(os.path.join(out, "samples"))
assert isinstance(dd, datasets.DatasetDict), type(dd)

units = []
for marker in sorted(glob.glob(os.path.join(out, "shards", "shard-*", "weft_shard.json"))):
    m = json.load(open(marker))
    for u in m["units"]:
        units.append((u["file"], u["range"], os.path.dirname(marker), u))
units.sort(key=lambda t: (t[0], t[1]))
files = json.load(open(glob.glob(os.path.join(out, "shards", "shard-*", "weft_shard.json"))[0]))["config"]["files"]
assert list(dd.keys()) == [str(k) for k in range(len(files))], list(dd.keys())

rows = 0
for k in range(len(files)):
    expect = []
    for f, r, shard_dir, u in units:
        if f != k:
            continue
        for a in u["arrow"]:
            with pa.ipc.open_stream(pa.memory_map(os.path.join(shard_dir, u["dir"], a["name"]))) as rd:
                t = rd.read_all()
            expect.extend(zip(t.column("input_ids").to_pylist(), t.column("labels").to_pylist()))
    split = dd[str(k)]
    got = list(zip(split["input_ids"], split["labels"]))
    assert got == expect, f"split {k} ({files[k]}): {len(got)} rows loaded, {len(expect)} in the shards, or different order"
    for c in split.cache_files:
        assert os.path.dirname(c["filename"]) == os.path.realpath(os.path.join(out, "samples", str(k))), c
    rows += len(split)

packed = datasets.load_from_disk(os.path.join(out, "packed"))
assert packed.column_names == ["input_ids", "labels", "cumulative_len", "position_ids"], packed.column_names
print(json.dumps({"splits": len(dd), "rows": rows, "units": len(units), "packs": len(packed)}))
