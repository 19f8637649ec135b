#!/usr/bin/env python3
"""The Hugging Face `datasets` pipeline that bench/process-scale.ts measures weft against.

Same job as `weft process --format ftdp --template internlm2_chat`: every `.json` file of the
folder (one JSON array of messages per line) → xtuner's openai_map_fn + template_map_fn + encode_fn
(transcribed in tools/reference/xtuner_encode.py) with the HF `tokenizers` Rust tokenizer loaded
from the same tokenizer.json → an Arrow dataset of int32 input_ids/labels on disk
(`save_to_disk`). Parallelism is `Dataset.map(batched=True, num_proc=N)`; each process encodes with
one thread (TOKENIZERS_PARALLELISM=false, set by the caller), as weft's N workers use N cores.
Like weft, each batch encodes its distinct piece texts in one `encode_batch` call.

Usage: process_scale_ref.py INPUT_DIR TOKENIZER_DIR OUT_DIR NUM_PROC
Prints one JSON line: {"samples": ..., "tokens": ..., "seconds": ...}.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools', 'reference'))
from xtuner_encode import PROMPT_TEMPLATE, fill_missing_keys, openai_map_fn, template_map_fn  # noqa: E402

IGNORE_INDEX = -100
_tok = None


def tokenizer(path):
    global _tok
    if _tok is None:
        from tokenizers import Tokenizer
        _tok = Tokenizer.from_file(os.path.join(path, 'tokenizer.json'))
    return _tok


def encode_batch(batch, tok_dir, max_length):
    tok = tokenizer(tok_dir)
    template = PROMPT_TEMPLATE['internlm2_chat']
    # xtuner reads each file as one Dataset: a message without a key that another message of the file
    # has reads None (fill_missing_keys); `loss_keys` are that file's message keys.
    convs = [template_map_fn(openai_map_fn(fill_missing_keys('ftdp', [json.loads(line)], keys)[0]), template)
             for line, keys in zip(batch['line'], batch['loss_keys'])]
    index, texts = {}, []
    for conv in convs:
        for t in conv:
            for s in (t['input'], t['output'], t['sep']):
                if s and s not in index:
                    index[s] = len(texts)
                    texts.append(s)
    ids = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)] if texts else []
    out_ids, out_labels = [], []
    for conv in convs:
        # encode_fn with Qwen's BOS = [] (and internlm2_chat's SUFFIX_AS_EOS: no EOS piece).
        input_ids, labels = [], []
        for t in conv:
            enc = ids[index[t['input']]] if t['input'] else []
            input_ids += enc
            labels += [IGNORE_INDEX] * len(enc)
            enc = ids[index[t['output']]] if t['output'] else []
            input_ids += enc
            labels += enc if t.get('output_with_loss', True) else [IGNORE_INDEX] * len(enc)
            if t['sep']:
                enc = ids[index[t['sep']]]
                input_ids += enc
                labels += [IGNORE_INDEX] * len(enc)
        # The offline job's filter: samples with no trainable token are dropped.
        if any(label >= 0 for label in labels[:max_length]):
            out_ids.append(input_ids[:max_length])
            out_labels.append(labels[:max_length])
    return {'input_ids': out_ids, 'labels': out_labels}


def main():
    in_dir, tok_dir, out_dir, num_proc = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    t0 = time.perf_counter()
    from datasets import Dataset, Features, Sequence, Value, disable_progress_bars
    disable_progress_bars()
    lines, loss_keys = [], []
    for name in sorted(os.listdir(in_dir)):
        if name.endswith('.json'):
            with open(os.path.join(in_dir, name), encoding='utf-8') as f:
                text = f.read()
            file_lines = [ln for ln in text.split('\n') if ln.strip()]
            keys = ['loss'] if '"loss"' in text else []
            lines += file_lines
            loss_keys += [keys] * len(file_lines)
    ds = Dataset.from_dict({'line': lines, 'loss_keys': loss_keys})
    features = Features({'input_ids': Sequence(Value('int32')), 'labels': Sequence(Value('int32'))})
    ds = ds.map(encode_batch, batched=True, batch_size=256, num_proc=num_proc if num_proc > 1 else None,
                remove_columns=['line', 'loss_keys'], features=features, fn_kwargs={'tok_dir': tok_dir, 'max_length': 32768})
    ds.save_to_disk(out_dir)
    import pyarrow.compute as pc
    tokens = pc.sum(pc.list_value_length(ds.data.column('input_ids'))).as_py()
    print(json.dumps({'samples': len(ds), 'tokens': tokens, 'seconds': time.perf_counter() - t0}))


if __name__ == '__main__':
    main()
