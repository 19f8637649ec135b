#!/usr/bin/env python3
"""Sentencepiece golden fixture for @weft/tokenize's `sentencepiece` backend.

Runs where Python `sentencepiece` (0.2.x) is installed (the GPU box; this development machine has
none), with no network. Trains two tiny models on the shipped sample text and records the ids
Python sentencepiece gives for every case, so the TypeScript test can compare id for id.

  bpe.model      Llama-2 style: model_type=bpe, byte_fallback, split_digits, identity normalizer,
                 no whitespace collapsing, dummy prefix, unk=0 bos=1 eos=2.
  unigram.model  sentencepiece defaults: model_type=unigram, nmt_nfkc normalizer, whitespace
                 collapsing, dummy prefix.

expected.json:
  versions, per model {file, vocab_size, bos_id, eos_id, unk_id, pad_id, cases: [{text, ids, decoded?}] (decoded only when sp.decode(ids) != text),
  hf: {legacy_true: {...}, legacy_false: {...}}} where hf lists only the cases whose
  LlamaTokenizer(add_special_tokens=False) ids differ from sp.encode (plus an error when it fails).
  Note: with transformers 5 (5.17 on the GPU box), LlamaTokenizer(vocab_file=...) is the
  tokenizers-backed class and does not read the .model: it returned [] for every text, so the hf
  records of the committed fixture carry no information (sentencepiece 0.2.2 ids are the reference).

Usage: python3 tools/device/spm_fixture.py <out_dir>   (writes <out_dir>/spm/{bpe,unigram}.model, expected.json)
"""
import glob
import json
import os
import sys
import tempfile

import sentencepiece as spm

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')

EDGE = [
    '', ' ', '  ', '\n', 'a', ' a', 'a ', '  leading spaces', 'trailing spaces  ', '  both  ',
    'multiple   inner    spaces', 'line one\nline two', 'ends with newline\n', '\n\nstarts with newlines',
    'tab\tseparated\tvalues', 'digits 1234567890 and 3.14159', '2026-11-24', 'emoji 🤖🦙👍🏽 done',
    '🤖', 'mixed 中文 English 混合', '你好，世界！', 'ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３', 'e\u0301 vs é',
    '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math letters', 'Ωμέγα ελληνικά', 'кириллица', 'zero\u200bwidth', '<s> </s> <unk>',
    '▁already▁has▁the▁meta▁symbol', '\u3000ideographic space', 'CR\r\nLF', '"quotes" and \'apostrophes\'',
]


def sample_texts():
    texts = []
    for f in sorted(glob.glob(os.path.join(ROOT, 'data/sample/pretrain/*.txt'))):
        with open(f, encoding='utf-8') as fh:
            texts += fh.read().split('\n')
    for f in sorted(glob.glob(os.path.join(ROOT, 'data/sample/ftdp/**/*.json'), recursive=True)):
        with open(f, encoding='utf-8') as fh:
            for line in fh:
                if line.strip():
                    texts += [m['content'] for m in json.loads(line) if isinstance(m.get('content'), str)]
    seen, out = set(), []
    for t in EDGE + texts:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def train(prefix, corpus, model_type, vocab_size, extra):
    last = None
    for vs in (vocab_size, vocab_size * 3 // 4, vocab_size // 2):
        args = dict(
            input=corpus, model_prefix=prefix, model_type=model_type, vocab_size=vs,
            input_sentence_size=2000, shuffle_input_sentence=False, num_threads=1,
            character_coverage=1.0, **extra,
        )
        try:
            spm.SentencePieceTrainer.train(**args)
            return vs
        except Exception as e:  # vocab too large/small for this tiny corpus: try a smaller one
            last = e
            print(f'train {model_type} vocab {vs} failed: {e}', file=sys.stderr)
    raise last


def main():
    out = os.path.join(sys.argv[1], 'spm')
    os.makedirs(out, exist_ok=True)
    cases = sample_texts()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, 'corpus.txt')
        with open(corpus, 'w', encoding='utf-8') as fh:
            for f in sorted(glob.glob(os.path.join(ROOT, 'data/sample/pretrain/*.txt'))):
                with open(f, encoding='utf-8') as src:
                    fh.write(src.read().rstrip('\n') + '\n')
        llama = dict(
            byte_fallback=True, split_digits=True, allow_whitespace_only_pieces=True,
            normalization_rule_name='identity', remove_extra_whitespaces=False, add_dummy_prefix=True,
            unk_id=0, bos_id=1, eos_id=2, pad_id=-1, max_sentence_length=100000,
        )
        models = {
            'bpe': train(os.path.join(out, 'bpe'), corpus, 'bpe', 1000, llama),
            'unigram': train(os.path.join(out, 'unigram'), corpus, 'unigram', 1000, dict(hard_vocab_limit=False)),
        }
    for name in models:
        os.remove(os.path.join(out, name + '.vocab'))

    versions = {'sentencepiece': spm.__version__, 'python': sys.version.split()[0]}
    try:
        import transformers
        versions['transformers'] = transformers.__version__
    except Exception as e:  # noqa: BLE001
        versions['transformers'] = f'unavailable: {e}'

    result = {'versions': versions, 'models': {}}
    for name in models:
        path = os.path.join(out, name + '.model')
        sp = spm.SentencePieceProcessor(model_file=path)
        recs = []
        for t in cases:
            ids = sp.encode(t)
            rec = {'text': t, 'ids': ids}
            decoded = sp.decode(ids)
            if decoded != t:  # normalisation (NFKC, whitespace collapsing) shows in the round trip
                rec['decoded'] = decoded
            recs.append(rec)
        m = {
            'file': name + '.model', 'vocab_size': sp.get_piece_size(), 'bos_id': sp.bos_id(),
            'eos_id': sp.eos_id(), 'unk_id': sp.unk_id(), 'pad_id': sp.pad_id(),
            'bos_piece': sp.id_to_piece(sp.bos_id()) if sp.bos_id() >= 0 else None,
            'eos_piece': sp.id_to_piece(sp.eos_id()) if sp.eos_id() >= 0 else None,
            'cases': recs, 'hf': {},
        }
        for legacy in (True, False):
            key = 'legacy_true' if legacy else 'legacy_false'
            try:
                from transformers import LlamaTokenizer
                tok = LlamaTokenizer(vocab_file=path, legacy=legacy, add_bos_token=True, add_eos_token=False)
                diffs = []
                for i, t in enumerate(cases):
                    hf = tok.encode(t, add_special_tokens=False)
                    if hf != recs[i]['ids']:
                        diffs.append({'case': i, 'ids': hf})
                with_special = tok.encode('hello world')
                m['hf'][key] = {'differs': diffs, 'hello_world_with_special_tokens': with_special}
            except Exception as e:  # noqa: BLE001
                m['hf'][key] = {'error': f'{type(e).__name__}: {e}'}
        result['models'][name] = m
        print(f"{name}: vocab {m['vocab_size']}, bos {m['bos_id']}, eos {m['eos_id']}, {len(recs)} cases, "
              f"{sum(len(r['ids']) for r in recs)} ids; hf: "
              + ', '.join(f"{k}={len(v['differs']) if 'differs' in v else v['error']}" for k, v in m['hf'].items()))
    with open(os.path.join(out, 'expected.json'), 'w', encoding='utf-8') as fh:
        json.dump(result, fh, ensure_ascii=False, separators=(',', ':'))
        fh.write('\n')
    print(json.dumps(versions))


if __name__ == '__main__':
    main()
