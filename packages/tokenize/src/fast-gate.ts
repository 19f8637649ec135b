/**
 * The equality gate for the fast BPE encoder: before `loadTokenizer` uses it for a tokenizer, it
 * must give the reference's ids on a built-in sample. The sample aims at the places a
 * reimplementation goes wrong: scripts and Unicode categories the split regex classifies
 * (letters, marks, numbers in many scripts, symbols, emoji with modifiers and joiners), every kind of
 * whitespace (runs, CRLF, tabs, U+0085 and U+00A0 which Oniguruma calls space, U+FEFF which it
 * does not), NFC compositions, contractions in both cases (and `ſ`), long numbers, long words (the
 * heap path), lone surrogates, and every added token of the tokenizer, bare and between spaces.
 */

/** Fixed sample texts; `gateSample` adds the tokenizer's own added tokens. */
export const GATE_TEXTS: readonly string[] = [
  '',
  ' ',
  "Hello, world! It's a test: don't, we're, they've, I'm, you'll, he'd. IT'S DON'T WE'RE I'M YOU'LL HE'D 'ſ 'S",
  'The quick brown fox jumps over the lazy dog 1234567890 times; 3.14159, 1,000,000 and 0x1F.',
  '你好，世界！这是一个测试。我们在北京。数据：１２３４５，共计100元。',
  '日本語のテキストとカタカナ、ひらがな。한국어 텍스트 입니다. Русский текст, Ελληνικά, עברית, العربية ١٢٣, हिन्दी ०१२, ไทย',
  'emoji 😀👍🏽👨‍👩‍👧‍👦 🇨🇳🇺🇸 ❤️ ✨ 🤖 — “quotes” ‘single’ «guillemets» … • © ® ™ € £ ¥',
  '   leading spaces, trailing   ',
  'tabs\tand\t\ttabs\n\nnew  lines\n\n\n  indented\n\tcode();\r\nCRLF line\r\n\r\nend\r',
  'ws: a\u00a0b\u2003c\u3000d\u0085e\ufeffe\u200bf\u2028g\u2029h\u000bi\u000cj\u0000k\u001fl',
  'NFC: e\u0301 A\u030a \u212b \u1100\u1161\u11a8 o\u0308\u0304 \u0915\u093c ﬁ ǅ ẛ̣',
  'digits 0 00 000 0000 12345678901234567890 ٠١٢٣٤٥٦٧٨٩ ²³ ½ Ⅻ 〇 3rd 1st 2nd v1.2.3-rc4',
  'code: def f(x):\n    return {"a": [1, 2, 3], \'b\': None}  # comment\n\nif __name__ == "__main__":\n\tf(42)',
  'punctuation!!! ??? ... --- ___ *** ### $$$ %%% &&& @@@ ^^^ ~~~ ``` ||| \\\\ // <<>> [[]] {{}} (())',
  'mixed中文English混合123数字abc，标点!?。',
  'x'.repeat(200),
  '一二三四五六七八九十'.repeat(12),
  'supercalifragilisticexpialidocious'.repeat(5),
  '\n'.repeat(9) + ' '.repeat(17) + '\t'.repeat(5) + '\r\n'.repeat(4),
  'lone \ud800 high, lone \udc00 low, pair \ud83d\ude00',
  'http://example.com/path?q=1&r=2#frag user@example.org',
];

/** The fixed texts plus each added token alone, between words, and surrounded by spaces and newlines. */
export function gateSample(addedTokens: readonly string[]): string[] {
  const out = [...GATE_TEXTS];
  for (const t of addedTokens) out.push(t, `a${t}b`, `  ${t}  x`, `\n${t}\n`, `${t}${t}`);
  if (addedTokens.length > 1) out.push(addedTokens.join(' text '));
  out.push(GATE_TEXTS.join('\n'));
  return out;
}

/**
 * Compare `fast` with `reference` on `texts`; return a description of the first difference, or
 * undefined when every id agrees.
 *
 * @example
 * const diff = await firstDifference(texts, (t) => bpe.encode(t), (ts) => native.encodeBatch(ts));
 * if (diff) console.warn(`fast path off: ${diff}`);
 */
export async function firstDifference(
  texts: readonly string[],
  fast: (text: string) => Int32Array,
  reference: (texts: string[]) => Promise<Int32Array[]>,
): Promise<string | undefined> {
  const want = await reference([...texts]);
  for (let i = 0; i < texts.length; i++) {
    const got = fast(texts[i]!);
    const exp = want[i]!;
    let j = 0;
    while (j < got.length && j < exp.length && got[j] === exp[j]) j++;
    if (j < got.length || j < exp.length) {
      return `sample ${i} ${JSON.stringify(texts[i]!.slice(0, 40))}${texts[i]!.length > 40 ? '…' : ''}: token ${j} is ${got[j] ?? '(end)'}, the reference has ${exp[j] ?? '(end)'}`;
    }
  }
  return undefined;
}
