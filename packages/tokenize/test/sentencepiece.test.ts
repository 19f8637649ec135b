import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, isDataError } from '@weft/core';
import { tokenizeFile } from '../src/tokenize-file.ts';
import { defaultTokenizerDir, loadTokenizer, type Tokenizer } from '../src/tokenizer.ts';
import { FIXTURES } from './helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

/**
 * Golden ids from Python sentencepiece (tools/device/spm_fixture.py, run on the GPU box where
 * `sentencepiece` is installed): two tiny models trained on data/sample (Llama-style BPE with byte
 * fallback, and a default unigram with NFKC), and `sp.encode(text)` for every shipped line, every
 * ftdp message and edge strings. (Its `hf` records are empty: transformers 5's LlamaTokenizer no
 * longer reads a sentencepiece vocab_file, so there was no HF slow tokenizer to compare with.)
 */
const SPM = join(FIXTURES, 'spm');

interface Case {
  text: string;
  ids: number[];
  decoded?: string;
}
interface HfRecord {
  differs?: { case: number; ids: number[] }[];
  error?: string;
  hello_world_with_special_tokens?: number[];
}
interface ModelRecord {
  file: string;
  vocab_size: number;
  bos_id: number;
  eos_id: number;
  unk_id: number;
  pad_id: number;
  bos_piece: string | null;
  eos_piece: string | null;
  cases: Case[];
  hf: Record<string, HfRecord>;
}
const expected = JSON.parse(gunzipSync(readFileSync(join(SPM, 'expected.json.gz'))).toString('utf8')) as {
  versions: Record<string, string>;
  models: Record<string, ModelRecord>;
};
const MODELS = Object.keys(expected.models).sort();

/** A fresh tokenizer folder holding `name`'s model as tokenizer.model, plus the given files. */
function folder(name: string, files: Record<string, unknown> = {}): string {
  const d = tempDir(`weft-spm-${name}-`);
  copyFileSync(join(SPM, expected.models[name]!.file), join(d, 'tokenizer.model'));
  for (const [f, v] of Object.entries(files)) writeFileSync(join(d, f), typeof v === 'string' ? v : JSON.stringify(v));
  return d;
}

describe.each(MODELS)('sentencepiece backend, %s model vs Python sentencepiece', (name) => {
  const m = expected.models[name]!;

  it('a folder with only tokenizer.model loads as sentencepiece; ids equal sp.encode for every case', async () => {
    const tok = await loadTokenizer(folder(name));
    expect(tok.backend).toBe('sentencepiece');
    expect(m.cases.length).toBeGreaterThan(500);
    const got = (await tok.encodeBatch(m.cases.map((c) => c.text))).map((x) => Array.from(x));
    const want = m.cases.map((c) => c.ids);
    for (let i = 0; i < want.length; i++) expect([i, m.cases[i]!.text, got[i]]).toEqual([i, m.cases[i]!.text, want[i]]);
    // encode one at a time gives what encodeBatch gives
    for (let i = 0; i < m.cases.length; i += 7) expect(Array.from(await tok.encode(m.cases[i]!.text))).toEqual(want[i]);
  });

  it("decode equals sp.decode; vocabSize, bos/eos and tokenToId equal the model's", async () => {
    const tok = await loadTokenizer(folder(name));
    for (const c of m.cases)
      expect([c.text, await tok.decode(Int32Array.from(c.ids))]).toEqual([c.text, c.decoded ?? c.text]);
    expect(tok.vocabSize).toBe(m.vocab_size);
    expect(tok.bosIds).toEqual(m.bos_id < 0 ? [] : [m.bos_id]);
    expect(tok.eosIds).toEqual(m.eos_id < 0 ? [] : [m.eos_id]);
    expect(tok.bosToken).toBe(m.bos_piece ?? undefined);
    expect(tok.eosToken).toBe(m.eos_piece ?? undefined);
    if (m.bos_piece !== null) expect(tok.tokenToId(m.bos_piece)).toBe(m.bos_id);
    expect(tok.tokenToId('not a piece of this model')).toBeUndefined();
  });
});

describe('sentencepiece backend: configuration, workers, bad files', () => {
  const name = MODELS.includes('bpe') ? 'bpe' : MODELS[0]!;
  const m = expected.models[name]!;

  it('BOS/EOS follow tokenizer_config.json: bos_token/eos_token pick the tokens, null drops, add_bos_token: false drops BOS', async () => {
    const swapped = await loadTokenizer(
      folder(name, { 'tokenizer_config.json': { bos_token: { content: m.eos_piece }, eos_token: m.bos_piece } }),
    );
    expect([swapped.bosIds, swapped.eosIds]).toEqual([[m.eos_id], [m.bos_id]]);
    expect([swapped.bosToken, swapped.eosToken]).toEqual([m.eos_piece, m.bos_piece]);
    const noBos = await loadTokenizer(
      folder(name, { 'tokenizer_config.json': { add_bos_token: false, eos_token: null } }),
    );
    expect([noBos.bosIds, noBos.eosIds]).toEqual([[], []]);
    const llama2 = await loadTokenizer(
      folder(name, {
        'tokenizer_config.json': {
          add_bos_token: true,
          add_eos_token: false,
          bos_token: '<s>',
          eos_token: '</s>',
          tokenizer_class: 'LlamaTokenizer',
        },
      }),
    );
    expect([llama2.bosIds, llama2.eosIds, llama2.className]).toEqual([[m.bos_id], [m.eos_id], 'LlamaTokenizer']);
  });

  it('backend: "sentencepiece" forces it when tokenizer.json is there too; auto then reads tokenizer.json', async () => {
    const d = folder(name);
    copyFileSync(join(defaultTokenizerDir(), 'tokenizer.json'), join(d, 'tokenizer.json'));
    const forced = await loadTokenizer(d, { backend: 'sentencepiece' });
    expect(forced.backend).toBe('sentencepiece');
    expect(Array.from(await forced.encode(m.cases[40]!.text))).toEqual(m.cases[40]!.ids);
    expect((await loadTokenizer(d)).backend).not.toBe('sentencepiece');
  });

  it('with added tokens in tokenizer_config.json, text is split on them as HF does, and the pieces between are sp.encode-d', async () => {
    const tok = await loadTokenizer(
      folder(name, {
        'tokenizer_config.json': {
          bos_token: m.bos_piece,
          eos_token: m.eos_piece,
          added_tokens_decoder: {
            [String(m.vocab_size)]: { content: '<|im_start|>', special: true },
            [String(m.vocab_size + 1)]: { content: '<|im_end|>', special: true, rstrip: true },
          },
        },
      }),
    );
    const sp = await loadTokenizer(folder(name));
    const enc = async (t: Tokenizer, s: string): Promise<number[]> => Array.from(await t.encode(s));
    const a = m.cases[40]!.text;
    const b = m.cases[41]!.text;
    expect(await enc(tok, `<|im_start|>${a}<|im_end|>  ${b}${m.eos_piece}`)).toEqual([
      m.vocab_size,
      ...(await enc(sp, a)),
      m.vocab_size + 1,
      ...(await enc(sp, b)),
      m.eos_id,
    ]);
    expect(tok.vocabSize).toBe(m.vocab_size + 2);
    expect(tok.tokenToId('<|im_end|>')).toBe(m.vocab_size + 1);
    expect(await tok.decode([m.vocab_size, ...(await enc(sp, a)), m.eos_id])).toBe(
      `<|im_start|>${m.cases[40]!.decoded ?? a}${m.eos_piece}`,
    );
  });

  it('tokenizeFile with workers: 1 (tokenizer reloaded from its spec in a worker) gives the samples of workers: 0', async () => {
    const tok = await loadTokenizer(
      folder(name, { 'tokenizer_config.json': { bos_token: m.bos_piece, eos_token: m.eos_piece } }),
    );
    expect(tok.spec).toEqual({ dir: tok.spec.dir, backend: 'sentencepiece' });
    const run = async (workers: number): Promise<number[][]> => {
      const s = tokenizeFile(join(FIXTURES, 'ftdp.json'), {
        format: 'ftdp',
        tokenizer: tok,
        template: 'internlm2_chat',
        workers,
        batchSize: 2,
      });
      const out = await collect(s);
      return out.flatMap((x) => [Array.from(x.input_ids), Array.from(x.labels)]);
    };
    const base = await run(0);
    expect(base.length).toBe(10);
    expect(base[0]![0]).toBe(m.bos_id);
    expect(await run(1)).toEqual(base);
  });

  it('a truncated tokenizer.model is a DataError naming the file and the byte', async () => {
    const d = tempDir('weft-spm-bad-');
    const bytes = readFileSync(join(SPM, m.file));
    mkdirSync(join(d, 'half'));
    writeFileSync(join(d, 'half', 'tokenizer.model'), bytes.subarray(0, bytes.length >> 1));
    const err = await loadTokenizer(join(d, 'half')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDataError(err)).toBe(true);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^${join(d, 'half', 'tokenizer.model').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: byte \\d+: not a valid sentencepiece model`,
      ),
    );
    mkdirSync(join(d, 'empty'));
    writeFileSync(join(d, 'empty', 'tokenizer.model'), '');
    await expect(loadTokenizer(join(d, 'empty'))).rejects.toThrow(
      /tokenizer\.model: byte 0: not a valid sentencepiece model .*empty/,
    );
  });
});
