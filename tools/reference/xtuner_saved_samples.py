#!/usr/bin/env python3
"""The features of xtuner's saved samples, made by HF `datasets` itself, next to weft's.

usage: python3 xtuner_saved_samples.py WEFT_OUT XTUNER_DIR

Loads WEFT_OUT/samples (a `weft process` DatasetDict) and WEFT_OUT/packed with `datasets.load_from_disk`.
For every non-empty split it builds the dataset the way xtuner's offline job does
(tools/process_untokenized_datasets_legacy.py, v0.2.0): a Dataset of messages (`Dataset.from_list`),
`.map` with a function returning `input_ids` / `labels` as Python lists (encode_fn's output; here the
rows weft wrote), `remove_columns` of the source columns, the `any(label >= 0)` filter, `.map` of
`get_lengths`, `remove_columns("length")`, then `DatasetDict.save_to_disk(XTUNER_DIR)` and
`load_from_disk`. An empty split is left out on xtuner's side: xtuner stops with an error there.
Prints one JSON object: per split the features both ways (as `str`), whether the rows are equal, and
`labels_ok` (every label datasets reads from weft's folder is -100 or its own token, both kinds present);
`packed`: the packed folder's features.
"""
import json
import os
import sys

import datasets
from datasets import Dataset, DatasetDict

weft_out, xtuner_dir = sys.argv[1], sys.argv[2]
weft = datasets.load_from_disk(os.path.join(weft_out, 'samples'))
built = {}
for name, ds in weft.items():
    rows = ds.to_list()
    if not rows:
        continue
    src = Dataset.from_list([{'messages': [{'role': 'user', 'content': str(i)}]} for i in range(len(rows))])
    enc = src.map(lambda ex, i: {'input_ids': list(rows[i]['input_ids']), 'labels': list(rows[i]['labels'])},
                  with_indices=True, remove_columns=src.column_names)
    enc = enc.filter(lambda ex: any(label >= 0 for label in ex['labels']))
    enc = enc.map(lambda ex: {'length': len(ex['input_ids'])})
    built[name] = enc.remove_columns('length')
DatasetDict(built).save_to_disk(xtuner_dir)
xtuner = datasets.load_from_disk(xtuner_dir)
out = {}
for name, ds in weft.items():
    x = xtuner[name] if name in xtuner else None
    out[name] = {
        'weft': str(ds.features),
        'xtuner': str(x.features) if x is not None else None,
        'rows': len(ds),
        'rows_equal': x is not None and ds.to_list() == x.to_list(),
        # As datasets reads weft's int64 labels: each -100 or its token, and both kinds present.
        'labels_ok': all(len(r['labels']) == len(r['input_ids'])
                         and all(l == -100 or l == t for l, t in zip(r['labels'], r['input_ids'])) for r in ds)
        and any(l == -100 for r in ds for l in r['labels']) and any(l >= 0 for r in ds for l in r['labels']),
    }
packed_dir = os.path.join(weft_out, 'packed')
if os.path.exists(packed_dir):
    out['packed'] = str(datasets.load_from_disk(packed_dir).features)
print(json.dumps(out))
