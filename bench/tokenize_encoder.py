"""One Python encoder row of bench/tokenize.ts:

    python3 bench/tokenize_encoder.py PIECES.json TOKENIZER_DIR tokenizers|tiktoken THREADS

tokenizers: HF's Python `tokenizers`, encode_batch(add_special_tokens=False) in batches of 1024
(threads: RAYON_NUM_THREADS in the environment). tiktoken: OpenAI's `tiktoken` with the same byte-level
vocabulary as ranks (rank = id), the tokenizer's split regex and its added tokens as special tokens,
encode_batch(num_threads=THREADS). Prints one JSON line: wall and CPU seconds of the encoding alone,
tokens, and the sha256 of all ids (int32 little-endian, piece order).
"""
import hashlib
import json
import sys
import time
from array import array


def byte_decoder() -> dict[str, int]:
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def main() -> None:
    pieces_file, tok_dir, engine, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    pieces = json.load(open(pieces_file, encoding='utf-8'))
    h = hashlib.sha256()
    tokens = 0
    wall = cpu = 0.0
    if engine == 'tokenizers':
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(f'{tok_dir}/tokenizer.json')
        for i in range(0, len(pieces), 1024):
            t0, c0 = time.perf_counter(), time.process_time()
            encs = tok.encode_batch(pieces[i:i + 1024], add_special_tokens=False)
            wall += time.perf_counter() - t0
            cpu += time.process_time() - c0
            for e in encs:
                tokens += len(e.ids)
                h.update(array('i', e.ids).tobytes())
    elif engine == 'tiktoken':
        import tiktoken
        j = json.load(open(f'{tok_dir}/tokenizer.json', encoding='utf-8'))
        dec = byte_decoder()
        ranks = {bytes(dec[c] for c in t): i for t, i in j['model']['vocab'].items()}
        pre = j['pre_tokenizer']
        pat = pre['pretokenizers'][0]['pattern']['Regex'] if pre['type'] == 'Sequence' else \
            r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
        enc = tiktoken.Encoding('bench', pat_str=pat, mergeable_ranks=ranks,
                                special_tokens={a['content']: a['id'] for a in j.get('added_tokens', [])})
        for i in range(0, len(pieces), 1024):
            t0, c0 = time.perf_counter(), time.process_time()
            ids = enc.encode_batch(pieces[i:i + 1024], num_threads=threads, allowed_special='all')
            wall += time.perf_counter() - t0
            cpu += time.process_time() - c0
            for x in ids:
                tokens += len(x)
                h.update(array('i', x).tobytes())
    else:
        raise SystemExit(f'engine must be tokenizers or tiktoken, got {engine}')
    print(json.dumps({'wall': wall, 'cpu': cpu, 'tokens': tokens, 'sha256': h.hexdigest()}))


main()
