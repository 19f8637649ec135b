#!/usr/bin/env python3
"""Open the Arrow folders weft wrote (tools/device/arrow-fixtures, made by arrow_make_fixtures.sh)
with pyarrow the way `datasets.load_from_disk` does, and check them against the packing golden.

Run on a machine with pyarrow (the GPU box):
    python3 tools/device/arrow_check.py tools/device/arrow-fixtures packages/pack/test/fixtures/packing.json

Checks, per folder: state.json / dataset_info.json exactly as save_to_disk writes them; each shard
is an Arrow IPC *stream* opened by pa.ipc.open_stream over a memory map (load_from_disk's
MemoryMappedTable.from_file); the schema is list<item: int32> per column with the child named
`item`, nullable (so datasets would not cast); the `huggingface` schema metadata; every pack's
values equal to the golden; for the DatasetDict, dataset_dict.json and each split equal to its
source file. When the `datasets` package is importable, load_from_disk is also called.
Prints one line per check and exits non-zero on the first failure.
"""
import json
import os
import sys

import pyarrow as pa

ok_count = 0


def check(cond, what):
    global ok_count
    if not cond:
        print(f"FAIL: {what}")
        sys.exit(1)
    ok_count += 1


SEQ = {"feature": {"dtype": "int32", "_type": "Value"}, "_type": "Sequence"}
INFO_KEYS = ["builder_name", "citation", "config_name", "dataset_name", "dataset_size", "description",
             "download_checksums", "download_size", "features", "homepage", "license", "post_processed",
             "post_processing_size", "size_in_bytes", "splits", "supervised_keys", "version"]


def load_folder(d, columns):
    """What datasets.load_from_disk does for one Dataset folder, with pyarrow only."""
    state = json.load(open(os.path.join(d, "state.json")))
    check(sorted(state) == ["_data_files", "_fingerprint", "_format_columns", "_format_kwargs", "_format_type",
                            "_output_all_columns", "_split"], f"{d}: state.json keys")
    check(open(os.path.join(d, "state.json")).read() == json.dumps(state, indent=2, sort_keys=True),
          f"{d}: state.json formatted as json.dump(indent=2, sort_keys=True)")
    check(state["_format_kwargs"] == {} and state["_format_type"] is None and state["_split"] is None
          and state["_output_all_columns"] is False and state["_format_columns"] is None, f"{d}: state.json values")
    n = len(state["_data_files"])
    check([f["filename"] for f in state["_data_files"]] == [f"data-{k:05d}-of-{n:05d}.arrow" for k in range(n)],
          f"{d}: shard names")
    info = json.load(open(os.path.join(d, "dataset_info.json")))
    check(list(info) == INFO_KEYS, f"{d}: dataset_info.json keys")
    check(info["features"] == {c: SEQ for c in columns}, f"{d}: features")
    tables = []
    for f in state["_data_files"]:
        path = os.path.join(d, f["filename"])
        with open(path, "rb") as fh:
            check(fh.read(6) != b"ARROW1", f"{path}: stream format, not file format")
        t = pa.ipc.open_stream(pa.memory_map(path)).read_all()
        want = pa.schema([pa.field(c, pa.list_(pa.field("item", pa.int32(), nullable=True)), nullable=True) for c in columns])
        check(t.schema.remove_metadata().equals(want), f"{path}: schema {t.schema.remove_metadata()}")
        meta = json.loads(t.schema.metadata[b"huggingface"])
        check(meta == {"info": {"features": {c: SEQ for c in columns}}}, f"{path}: huggingface metadata")
        tables.append(t)
    table = pa.concat_tables(tables)
    try:
        import datasets  # optional
        ds = datasets.load_from_disk(d)
        check(ds.num_rows == table.num_rows, f"{d}: datasets.load_from_disk rows")
        check(ds.data.table.schema.remove_metadata().equals(table.schema.remove_metadata()),
              f"{d}: load_from_disk kept the schema (no cast)")
        print(f"ok: datasets {datasets.__version__} load_from_disk({d})")
    except ImportError:
        pass
    return table


def main():
    root, golden_path = sys.argv[1], sys.argv[2]
    print(f"pyarrow {pa.__version__}")
    golden = json.load(open(golden_path))
    cols = ["input_ids", "labels", "cumulative_len", "position_ids"]
    for ci, case in enumerate(golden):
        d = os.path.join(root, f"case{ci}")
        t = load_folder(d, cols)
        check(t.num_rows == len(case["packs"]), f"{d}: {t.num_rows} rows, golden {len(case['packs'])}")
        for c in cols:
            got = t.column(c).to_pylist()
            check(got == [p[c] for p in case["packs"]], f"{d}: column {c} equals the golden packs")
        print(f"ok: {d}: {t.num_rows} packs in {len(os.listdir(d)) - 2} shard(s) equal the golden")
    d = os.path.join(root, "dict")
    splits = json.load(open(os.path.join(d, "dataset_dict.json")))["splits"]
    files = golden[1]["files"]
    check(splits == [str(k) for k in range(len(files))], f"{d}: dataset_dict.json splits")
    check(open(os.path.join(d, "dataset_dict.json")).read() == json.dumps({"splits": splits}), f"{d}: dataset_dict.json text")
    for k, lines in zip(splits, files):
        t = load_folder(os.path.join(d, k), ["input_ids", "labels"])
        check(t.column("input_ids").to_pylist() == [[abs(x) for x in l] for l in lines], f"{d}/{k}: input_ids")
        check(t.column("labels").to_pylist() == [[x if x > 0 else -100 for x in l] for l in lines], f"{d}/{k}: labels")
    print(f"ok: {d}: DatasetDict of {len(splits)} splits equals the source files")
    print(f"ALL OK ({ok_count} checks)")


if __name__ == "__main__":
    main()
