/**
 * A seeded generator of mixed text for comparing tokenizers id for id: prose in several scripts,
 * code, numbers, emoji sequences, whitespace of every kind, combining marks (NFC), contractions,
 * added/special tokens, long words, random code points from every plane (including letters newer
 * than Oniguruma's Unicode tables) and the odd lone surrogate. Used by the fast-BPE tests and by
 * bench/tokenize.ts.
 *
 * @example
 * const texts = mixedTexts({ seed: 1, bytes: 300_000, specials: ['<|im_end|>'] });
 */
export function mixedTexts(opts: { seed: number; bytes: number; specials?: readonly string[] }): string[] {
  let s = opts.seed >>> 0 || 1;
  const rnd = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const specials = opts.specials ?? [];
  const out: string[] = [];
  let total = 0;
  while (total < opts.bytes) {
    let t = '';
    const parts = 1 + int(12);
    for (let p = 0; p < parts; p++) t += fragment(pick, int, rnd, specials);
    out.push(t);
    total += Buffer.byteLength(t);
  }
  return out;
}

const EN = (
  'the of and to in is that for it as with was on be by this are from at or an which have not data model training token ' +
  'language learning system we can Hello World THE Of iPhone McDonald naïve café résumé coöperate'
).split(' ');
const CONTRACTIONS = [
  "'s",
  "'t",
  "'re",
  "'ve",
  "'m",
  "'ll",
  "'d",
  "'S",
  "'T",
  "'RE",
  "'Ve",
  "'M",
  "'LL",
  "'D",
  "'ſ",
  "'x",
  '’s',
];
const ZH =
  '的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严';
const OTHER = [
  '日本語のテキスト',
  'カタカナ',
  'ひらがなです',
  '한국어 텍스트',
  'Русский текст',
  'Ελληνικά',
  'עברית',
  'العربية',
  'हिन्दी',
  'ไทย',
  'Tiếng Việt',
  'ქართული',
  'Ⅻ½²³',
  '٠١٢٣',
  '०१२३',
];
const PUNCT = [
  '.',
  ',',
  '!',
  '?',
  ';',
  ':',
  '...',
  '—',
  '–',
  '-',
  '"',
  '“',
  '”',
  '‘',
  '’',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  '<',
  '>',
  '/',
  '\\',
  '@',
  '#',
  '$',
  '%',
  '^',
  '&',
  '*',
  '+',
  '=',
  '|',
  '~',
  '`',
  '，',
  '。',
  '！',
  '？',
  '、',
  '：',
  '；',
  '（',
  '）',
  '《',
  '》',
  '・',
  '…',
  '€',
  '£',
  '¥',
  '©',
  '®',
  '™',
  '°',
  '±',
  '×',
  '÷',
  '§',
  '¶',
  '•',
];
const SPACE = [
  ' ',
  ' ',
  ' ',
  '  ',
  '   ',
  '\t',
  '\t\t',
  '\n',
  '\n\n',
  '\n\n\n',
  '\r\n',
  '\r\n\r\n',
  '\r',
  ' \n',
  '\n ',
  '\u00a0',
  '\u3000',
  '\u2003',
  '\u0085',
  '\ufeff',
  '\u200b',
  '\u2028',
  '\u000b',
  '\u000c',
];
const EMOJI = ['😀', '👍🏽', '👨‍👩‍👧‍👦', '🇨🇳', '🇺🇸', '❤️', '✨', '🤖', '🔥', '🧑🏿‍💻', '☺', '⭐', '🏳️‍🌈', '👋'];
const COMBINING = ['\u0301', '\u0300', '\u0308', '\u030a', '\u0327', '\u0304', '\u0323', '\u093c', '\u3099', '\u20dd'];
const CODE = [
  'def f(x):\n    return x + 1\n',
  'for (let i = 0; i < n; i++) {\n  sum += a[i];\n}\n',
  '{"key": [1, 2.5, null, true], "s": "v"}',
  'SELECT * FROM t WHERE id = 42;',
  '#include <stdio.h>\nint main() { return 0; }',
  '    if x:\n\t\tpass',
  '$ ls -la /usr/bin | grep -v "^d"',
  'a_b_c = foo.bar(baz)[0]',
];
// Letters and digits newer than Oniguruma's tables (Node's \p{L} has them), and a few unassigned code points.
const NEW_CHARS = [
  0x88f, 0xc5c, 0xcdc, 0xa7ce, 0xa7d2, 0x10940, 0x11de0, 0x16ff4, 0x1e5d0, 0x0378, 0xfdd0, 0xe000, 0x10ffff,
];

function fragment(
  pick: <T>(xs: readonly T[]) => T,
  int: (n: number) => number,
  rnd: () => number,
  specials: readonly string[],
): string {
  const k = int(20);
  switch (k) {
    case 0:
    case 1:
    case 2:
    case 3: {
      let t = '';
      for (let i = 0, n = 1 + int(30); i < n; i++)
        t +=
          (i && rnd() < 0.9 ? ' ' : '') +
          pick(EN) +
          (rnd() < 0.1 ? pick(CONTRACTIONS) : '') +
          (rnd() < 0.1 ? pick(PUNCT) : '');
      return t;
    }
    case 4:
    case 5:
    case 6: {
      let t = '';
      for (let i = 0, n = 1 + int(80); i < n; i++)
        t += ZH[int(ZH.length)]! + (rnd() < 0.08 ? pick(['，', '。', '、', '！', '：', ' ', '\n']) : '');
      return t;
    }
    case 7:
      return pick(OTHER) + pick(SPACE);
    case 8:
      return pick(SPACE) + (rnd() < 0.3 ? pick(SPACE) : '');
    case 9: {
      let d = '';
      for (let i = 0, n = 1 + int(rnd() < 0.2 ? 40 : 6); i < n; i++) d += String(int(10));
      return (rnd() < 0.5 ? ' ' : '') + d + (rnd() < 0.3 ? pick(['.', ',', '%', 'px', 'th', ' ']) : '');
    }
    case 10:
      return pick(EMOJI) + (rnd() < 0.3 ? pick(EMOJI) : '') + (rnd() < 0.5 ? ' ' : '');
    case 11:
      return (
        pick(['e', 'a', 'o', 'A', 'n', 'u', 'क', 'か', 'x', ' ']) +
        pick(COMBINING) +
        (rnd() < 0.3 ? pick(COMBINING) : '')
      );
    case 12:
      return pick(CODE);
    case 13:
      return pick(PUNCT) + (rnd() < 0.5 ? pick(PUNCT) : '') + (rnd() < 0.3 ? pick(PUNCT) : '');
    case 14:
      return specials.length && rnd() < 0.7
        ? pick([' ', '', '\n', '  ']) + pick(specials) + pick([' ', '', '\n', 'x'])
        : ' ';
    case 15:
      return pick(['x', 'ab', '一二', 'supercalifragilistic', ' ', '=', '0']).repeat(1 + int(rnd() < 0.2 ? 120 : 8));
    case 16: {
      const planes = [0x80, 0x800, 0x3000, 0x10000, 0x20000, 0x110000];
      const cp = int(pick(planes));
      return cp >= 0xd800 && cp < 0xe000 ? '?' : String.fromCodePoint(cp);
    }
    case 17:
      return String.fromCodePoint(pick(NEW_CHARS)) + (rnd() < 0.5 ? 'a' : ' ');
    case 18:
      return rnd() < 0.1 ? pick(['\ud800', '\udfff', 'a\udc00b']) : pick(["'", "''", " '", "it's", '"quoted"']);
    default:
      return pick(EN) + pick(SPACE);
  }
}
