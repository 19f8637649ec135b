/**
 * Deterministic synthetic ftdp corpus for benchmarks: half English, half Chinese conversations
 * (system + two user/assistant turns, the first assistant reply with a random `loss` flag, the second always trained), one
 * JSON array per line, split over `files` files named `part-000.json`, ... (data order = name order).
 *
 * @example
 * const { bytes, records } = writeFtdpCorpus('/tmp/corpus', { mb: 64, files: 16 });
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const EN =
  'the of and to in is that for it as with was on be by this are from at or an which have not data model training token language learning system we can'.split(
    ' ',
  );
const ZH =
  '的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严'.split(
    '',
  );

/**
 * A seeded word source (xorshift32: the same text on every machine and Node version): `rnd()` in
 * [0, 1), `words(n, zh)` n English words or Chinese characters with some punctuation.
 */
export function corpusWords(seed0 = 0x9e3779b9): { rnd: () => number; words: (n: number, zh: boolean) => string } {
  let seed = seed0;
  const rnd = (): number => {
    seed ^= seed << 13;
    seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    seed >>>= 0;
    return seed / 0x100000000;
  };
  const words = (n: number, zh: boolean): string => {
    let s = '';
    for (let i = 0; i < n; i++) {
      if (zh) s += ZH[Math.floor(rnd() * ZH.length)]! + (rnd() < 0.08 ? '，' : '');
      else s += (i ? ' ' : '') + EN[Math.floor(rnd() * EN.length)]! + (rnd() < 0.06 ? '.' : '');
    }
    return s;
  };
  return { rnd, words };
}

/** One ftdp conversation: half English, half Chinese; system + two user/assistant turns, the first reply's `loss` random, the second's true. */
export function conversation(
  rnd: () => number,
  words: (n: number, zh: boolean) => string,
): { role: string; content: string; loss?: boolean }[] {
  const zh = rnd() < 0.5;
  return [
    { role: 'system', content: zh ? '你是一个有用的助手。' : 'You are a helpful assistant.' },
    { role: 'user', content: words(20 + Math.floor(rnd() * 60), zh) },
    { role: 'assistant', content: words(50 + Math.floor(rnd() * 250), zh), loss: rnd() < 0.9 },
    { role: 'user', content: words(10 + Math.floor(rnd() * 40), zh) },
    // Its own `loss` key: in a file where some reply has one, a reply without it is not trained (xtuner via HF datasets).
    { role: 'assistant', content: words(50 + Math.floor(rnd() * 250), zh), loss: true },
  ];
}

/** Write the corpus under `dir` (created); returns its size in bytes and its record count. */
export function writeFtdpCorpus(
  dir: string,
  opts: { mb: number; files: number; seed?: number },
): { bytes: number; records: number; files: string[] } {
  const { rnd, words } = corpusWords(opts.seed);
  mkdirSync(dir, { recursive: true });
  const perFile = (opts.mb * 1e6) / opts.files;
  let bytes = 0;
  let records = 0;
  const names: string[] = [];
  for (let f = 0; f < opts.files; f++) {
    const lines: string[] = [];
    let size = 0;
    while (size < perFile) {
      const conv = conversation(rnd, words);
      const line = JSON.stringify(conv);
      lines.push(line);
      size += Buffer.byteLength(line) + 1;
    }
    const name = `part-${String(f).padStart(3, '0')}.json`;
    writeFileSync(join(dir, name), `${lines.join('\n')}\n`);
    names.push(name);
    bytes += size;
    records += lines.length;
  }
  return { bytes, records, files: names };
}
