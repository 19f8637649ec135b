import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { collect } from '@weft/core';
import { tokenizeFile } from '../src/tokenize-file.ts';
import { loadTokenizer, type Tokenizer } from '../src/tokenizer.ts';
import { FIXTURES, REPO } from './helpers.ts';

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? walk(p) : /\.(jsonl?|txt)$/.test(n) ? [p] : [];
    });
}

function strings(v: unknown, out: string[]): void {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) strings(x, out);
}

/** Every text of the shipped corpus: string leaves of JSON records, and txt lines, whatever the format. */
function corpusTexts(files: string[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    const body = readFileSync(f, 'utf8');
    if (f.endsWith('.txt')) out.push(...body.split('\n'));
    else {
      try {
        strings(JSON.parse(body), out);
      } catch {
        for (const line of body.split('\n')) if (line.trim()) strings(JSON.parse(line), out);
      }
    }
  }
  return out;
}

describe("real tokenizer (embedded Qwen3): native binding vs @huggingface/tokenizers vs weft's fast BPE", () => {
  let native: Tokenizer;
  let js: Tokenizer;
  let fast: Tokenizer;
  beforeAll(async () => {
    native = await loadTokenizer('default', { backend: 'native' });
    js = await loadTokenizer('default', { backend: 'js' });
    fast = await loadTokenizer('default', { backend: 'fast' });
  });

  it('auto picks the fast BPE encoder; all agree on BOS/EOS/vocab (Qwen: no BOS)', async () => {
    expect((await loadTokenizer('default')).backend).toBe('fast');
    expect(fast.eosIds).toEqual(native.eosIds);
    expect(fast.vocabSize).toBe(native.vocabSize);
    expect(native.bosIds).toEqual([]);
    expect(native.eosIds).toEqual([native.tokenToId('<|im_end|>')]);
    expect(js.eosIds).toEqual(native.eosIds);
    expect(js.vocabSize).toBe(native.vocabSize);
  });

  it('same ids on every text of the shipped corpus (fixtures and data/sample)', async () => {
    const files = [...walk(FIXTURES), ...walk(join(REPO, 'data', 'sample'))];
    const texts = corpusTexts(files);
    texts.push('<|im_start|>user\nhi<|im_end|>\n', '', ' ', '\n\n', '😀👍🏽', 'ｆｕｌｌｗｉｄｔｈ', 'a\u0000b');
    const a = await native.encodeBatch(texts);
    const b = await js.encodeBatch(texts);
    const c = await fast.encodeBatch(texts);
    expect(texts.length).toBeGreaterThan(40);
    for (let i = 0; i < texts.length; i++)
      expect(Array.from(a[i]!), JSON.stringify(texts[i]).slice(0, 80)).toEqual(Array.from(b[i]!));
    for (let i = 0; i < texts.length; i++)
      expect(Array.from(c[i]!), JSON.stringify(texts[i]).slice(0, 80)).toEqual(Array.from(a[i]!));
    expect(await native.decode(a[0]!)).toBe(texts[0]);
  });

  it('templated samples of every shipped chat/pretrain file: native = js', async () => {
    const files: [string, 'ftdp' | 'openai' | 'alpaca' | 'pretrain'][] = [
      ['ftdp/chat_cn.json', 'ftdp'],
      ['ftdp/chat_en.json', 'ftdp'],
      ['ftdp/code/code_mixed.json', 'ftdp'],
      ['openai/chat.jsonl', 'openai'],
      ['alpaca/alpaca.json', 'alpaca'],
      ['pretrain/mixed.jsonl', 'pretrain'],
      ['pretrain/cn.txt', 'pretrain'],
      ['pretrain/en.txt', 'pretrain'],
    ];
    for (const [name, format] of files) {
      const run = async (tok: Tokenizer): Promise<number[][]> =>
        (
          await collect(
            tokenizeFile(join(REPO, 'data', 'sample', name), { format, tokenizer: tok, template: 'internlm2_chat' }),
          )
        ).flatMap((x) => [Array.from(x.input_ids), Array.from(x.labels)]);
      const a = await run(native);
      expect(a.length, name).toBeGreaterThan(40);
      expect(await run(js), name).toEqual(a);
      expect(await run(fast), name).toEqual(a);
    }
  });

  it('tokenizeFile gives the same samples for 0, 1 and 2 workers, and for either backend', async () => {
    const run = async (tok: Tokenizer, workers: number): Promise<number[][]> => {
      const s = tokenizeFile(join(FIXTURES, 'ftdp.json'), {
        format: 'ftdp',
        tokenizer: tok,
        template: 'internlm2_chat',
        workers,
        batchSize: 2,
      });
      const out = await collect(s);
      expect(s.stats[3]!.seen).toBe(5);
      return out.flatMap((x) => [Array.from(x.input_ids), Array.from(x.labels)]);
    };
    const base = await run(native, 0);
    expect(base.length).toBe(10);
    expect(await run(native, 1)).toEqual(base);
    expect(await run(native, 2)).toEqual(base);
    expect(await run(js, 2)).toEqual(base);
    expect(await run(fast, 0)).toEqual(base);
    expect(await run(fast, 2)).toEqual(base);
  });
});
