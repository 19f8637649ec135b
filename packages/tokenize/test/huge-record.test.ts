import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, DataError } from '@weft/core';
import { chunkSafety, encodeChunked, safePieces, type TokenizerJsonShape } from '../src/chunked-encode.ts';
import { textToBin } from '../src/internlm-tokenize.ts';
import { tokenizeFile } from '../src/tokenize-file.ts';
import { defaultTokenizerDir, loadTokenizer, type Tokenizer } from '../src/tokenizer.ts';
import { REPO } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'weft-huge-record-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Deterministic text with every kind of place a cut could go wrong. */
function mixedText(chars: number, seed = 7): string {
  const bits = [
    'The quick brown fox',
    "don't",
    "I'LL",
    "we've",
    ' ',
    '  ',
    '   x',
    '\t',
    '\n',
    '\n\n',
    '\r\n',
    ' \n ',
    '中文的一行，带标点。',
    '我们',
    '，',
    '。',
    '12345',
    '3.14',
    'x1',
    '<think>',
    '</think>',
    '<|im_end|>',
    '<|im_start|>user',
    'café',
    'cafe\u0301',
    'naïve',
    '😀',
    'مرحبا',
    'Ünïcödé',
    'a',
    'B',
    ' word',
    'end.',
    '!!',
    '...',
    '-',
    '_',
    'http://x.y/z?q=1',
    '    indented',
    'Zeta',
    ' \u00a0 ',
    'ﬁ',
  ];
  let s = seed;
  const out: string[] = [];
  let n = 0;
  while (n < chars) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const b = bits[s % bits.length]!;
    out.push(b);
    n += b.length;
  }
  return out.join('');
}

let tok: Tokenizer;
beforeAll(async () => {
  tok = await loadTokenizer('default', { backend: 'native' });
});

describe('encoding huge texts in pieces', () => {
  it('is allowed only for tokenizers whose pre-tokenizer always ends a pre-token at the cut', () => {
    const qwen = JSON.parse(readFileSync(join(defaultTokenizerDir(), 'tokenizer.json'), 'utf8')) as TokenizerJsonShape;
    expect(chunkSafety(qwen)?.addedTokens).toContain('<|im_end|>');
    const wordLevel = JSON.parse(
      readFileSync(join(REPO, 'packages/convert/test/fixtures/turbomind/hf/llama/tokenizer.json'), 'utf8'),
    ) as TokenizerJsonShape;
    expect(chunkSafety(wordLevel)).toBeUndefined();
    const metaspace = { ...qwen, pre_tokenizer: { type: 'Metaspace' } } as TokenizerJsonShape;
    expect(chunkSafety(metaspace)).toBeUndefined();
    const prepend = { ...qwen, normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend' }] } };
    expect(chunkSafety(prepend)).toBeUndefined();
    const otherRegex = JSON.parse(JSON.stringify(qwen)) as {
      pre_tokenizer: { pretokenizers: { pattern: { Regex: string } }[] };
    };
    otherRegex.pre_tokenizer.pretokenizers[0]!.pattern.Regex = '\\p{L}+( \\p{L}+)*|.';
    expect(chunkSafety(otherRegex as TokenizerJsonShape)).toBeUndefined();
  });

  it('gives the ids of encoding the text whole, at thousands of cuts', async () => {
    const qwen = chunkSafety(
      JSON.parse(readFileSync(join(defaultTokenizerDir(), 'tokenizer.json'), 'utf8')) as TokenizerJsonShape,
    )!;
    const text = mixedText(60_000);
    const pieces = safePieces(text, qwen, 40);
    expect(pieces.length).toBeGreaterThan(500);
    expect(pieces.join('')).toBe(text);
    const whole = await tok.encodeBatch([text]); // under the chunking threshold: one call
    const chunked = await encodeChunked(text, qwen, (ts) => tok.encodeBatch(ts), { target: 40 });
    expect(Array.from(chunked)).toEqual(Array.from(whole[0]!));
  });

  it("a text over the threshold encodes to the ids of Python's tokenizers encoding it whole", async () => {
    const text = mixedText(1_200_000, 11);
    const p = join(dir, 'mixed.txt');
    writeFileSync(p, text);
    const ref = JSON.parse(
      execFileSync(
        'python3',
        [
          '-c',
          [
            'import json, sys',
            'from tokenizers import Tokenizer',
            't = Tokenizer.from_file(sys.argv[1])',
            'sys.stdout.write(json.dumps(t.encode(open(sys.argv[2], encoding="utf-8", newline="").read(), add_special_tokens=False).ids))',
          ].join('\n'),
          join(defaultTokenizerDir(), 'tokenizer.json'),
          p,
        ],
        { encoding: 'utf8', maxBuffer: 1 << 28 },
      ),
    ) as number[];
    expect(Array.from(await tok.encode(text))).toEqual(ref);
  });
});

describe('a 20 MB ftdp record', () => {
  it('tokenizes with peak memory under 8x the record above the baseline (child process)', () => {
    // ~20 MB of English in one assistant turn, plus a small second line.
    const words = 'The quick brown fox jumps over the lazy dog while the river keeps running to the sea'.split(' ');
    const parts: string[] = [];
    let n = 0;
    for (let s = 1; n < 20e6;) {
      s = (s * 1103515245 + 12345) % 2147483648;
      const w = words[s % words.length]!;
      parts.push(w);
      n += w.length + 1;
    }
    const big = JSON.stringify([
      { role: 'user', content: 'Summarise.' },
      { role: 'assistant', content: parts.join(' ') },
    ]);
    const small = JSON.stringify([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'yo' },
    ]);
    const p = join(dir, 'huge.json');
    writeFileSync(p, `${big}\n${small}\n`);
    const child = join(REPO, 'packages/tokenize/test/huge-record-child.ts');
    const r = JSON.parse(
      execFileSync(process.execPath, ['--import', 'tsx', child, p], { encoding: 'utf8', cwd: REPO }),
    ) as { baseline: number; peak: number; lengths: number[] };
    expect(r.lengths).toHaveLength(2);
    expect(r.lengths[0]).toBeGreaterThan(3_000_000);
    // Before: ~2.7 GB over the baseline (the encoder's bookkeeping for one 20 MB text).
    expect(r.peak - r.baseline).toBeLessThan(8 * big.length);
  }, 240_000);
});

describe('--max-record-bytes in the tokenize paths', () => {
  it('fails naming file, line and size, or skips and counts (tokenizeFile and textToBin)', async () => {
    const p = join(dir, 'chat.json');
    const row = (t: string): string =>
      JSON.stringify([
        { role: 'user', content: 'q' },
        { role: 'assistant', content: t },
      ]);
    writeFileSync(p, `${row('short')}\n${row('x'.repeat(3000))}\n${row('fine')}\n`);
    const e = await collect(tokenizeFile(p, { format: 'ftdp', tokenizer: tok, maxRecordBytes: 1000 })).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(DataError);
    expect((e as Error).message).toMatch(
      /chat\.json: line 2 \(byte \d+\): record of 3\.1 kB \(\d+ bytes\) exceeds --max-record-bytes 1000/,
    );
    const s = tokenizeFile(p, { format: 'ftdp', tokenizer: tok, maxRecordBytes: 1000, onError: 'skip' });
    expect(await collect(s)).toHaveLength(2);
    expect(s.stats[0]!.toJSON().rejected).toEqual({ 'record-too-large': 1 });

    const txt = join(dir, 'docs.txt');
    writeFileSync(txt, `one\n${'y'.repeat(2000)}\nthree\n`);
    await expect(textToBin(txt, join(dir, 'en', 'a.bin'), { tokenizer: tok, maxRecordBytes: 1000 })).rejects.toThrow(
      /docs\.txt: line 2 \(byte 4\): record of 2\.0 kB/,
    );
    const sum = await textToBin(txt, join(dir, 'en', 'b.bin'), {
      tokenizer: tok,
      maxRecordBytes: 1000,
      onError: 'skip',
    });
    expect(sum.lines).toBe(2);
    expect(sum.skipped).toEqual({ 'record-too-large': 1 });
  });
});
