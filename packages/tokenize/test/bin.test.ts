import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readInternlmBin } from '@weft/order';
import { collect } from '@weft/core';
import { BinWriter, tokensLine, signedTokens } from '../src/bin-writer.ts';
import { encodeDocs } from '../src/encode-worker.ts';
import { datasetToBin, internlmDocs, textToBin } from '../src/internlm-tokenize.ts';
import { pyJsonDumps } from '../src/py-json.ts';
import { tokenizeFile } from '../src/tokenize-file.ts';
import { loadTokenizer } from '../src/tokenizer.ts';
import { FIXTURES, python } from './helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const tmp = (): string => tempDir('weft-bin-');
const same = (a: string, b: string): void => expect(readFileSync(a).equals(readFileSync(b)), `${a} vs ${b}`).toBe(true);

/** Python writes the reference pair from the same token lists. */
function pythonBin(lines: ArrayLike<number>[], out: string): void {
  const j = join(tmp(), 'tokens.json');
  writeFileSync(j, JSON.stringify(lines.map((l) => Array.from(l))));
  python('internlm_bin.py', ['bin', j, out]);
}

describe('.bin / .bin.meta byte-identical to json + numpy', () => {
  it('tokensLine is json.dumps({"tokens": ids}) + "\\n"', () => {
    expect(tokensLine(Int32Array.of(1, -2, 151645))).toBe('{"tokens": [1, -2, 151645]}\n');
    expect(tokensLine([])).toBe('{"tokens": []}\n');
  });

  it('BinWriter: lines and int32 meta as tools/tokenizer.py writes them (0, 1 and many lines)', async () => {
    for (const lines of [
      [[5]],
      Array.from({ length: 300 }, (_, i) =>
        Array.from({ length: i % 17 }, (_, k) => (k % 3 === 0 ? -1 : 1) * (i * 31 + k)),
      ),
    ]) {
      const d = tmp();
      const w = await BinWriter.create(join(d, 'w.bin'));
      for (const l of lines) await w.write(l);
      await w.close();
      pythonBin(lines, join(d, 'p.bin'));
      same(join(d, 'w.bin'), join(d, 'p.bin'));
      same(join(d, 'w.bin.meta'), join(d, 'p.bin.meta'));
    }
  });

  it('an empty .bin gets a (0, 2) int32 meta, as numpy writes np.zeros((0, 2), np.int32)', async () => {
    const d = tmp();
    const w = await BinWriter.create(join(d, 'e.bin'));
    await w.close();
    python('internlm_bin.py', ['empty', join(d, 'ref.meta')]);
    same(join(d, 'e.bin.meta'), join(d, 'ref.meta'));
    expect(readFileSync(join(d, 'e.bin')).length).toBe(0);
  });

  it('textToBin (.txt, real tokenizer, 2 workers) = Python writing the same ids; a rerun with overwrite replaces, and order reads it back', async () => {
    const tok = await loadTokenizer('default');
    const d = tmp();
    const out = join(d, 'en', 'p.bin');
    const input = join(FIXTURES, 'pretrain.txt');
    await textToBin(input, out, { tokenizer: tok, workers: 2 });
    await expect(textToBin(input, out, { tokenizer: tok, workers: 2 })).rejects.toThrow(/exists; pass --overwrite/);
    await textToBin(input, out, { tokenizer: tok, workers: 2, overwrite: true }); // InternLM would append a second copy
    const docs = (await collect(internlmDocs(input, {}))).map((x) => x.text);
    expect(docs).toEqual([
      'The quick brown fox jumps over the lazy dog.',
      '春眠不觉晓，处处闻啼鸟。',
      'Line with trailing spaces',
    ]);
    const ids = await encodeDocs(tok, docs);
    pythonBin(ids, join(d, 'ref.bin'));
    same(out, join(d, 'ref.bin'));
    same(`${out}.meta`, join(d, 'ref.bin.meta'));
    const back = await collect(readInternlmBin(out));
    expect(back.map((r) => Array.from(r.tokens))).toEqual(ids.map((x) => Array.from(x)));
  });

  it('--internlm-compat: .json records are json.dumps(record) (ensure_ascii), .jsonl lines raw with their newline', async () => {
    const recs = join(FIXTURES, 'alpaca.json');
    const pyDumps = python('internlm_bin.py', ['dumps', recs]).split('\n').slice(0, -1);
    const docs = (await collect(internlmDocs(recs, { internlmCompat: true }))).map((x) => x.text);
    expect(docs).toEqual(pyDumps);
    expect(pyJsonDumps({ a: [1, 2.5, null, true], é: '\u0001\u007f"\\' })).toBe(
      '{"a": [1, 2.5, null, true], "\\u00e9": "\\u0001\\u007f\\"\\\\"}',
    );
    const raw = (await collect(internlmDocs(join(FIXTURES, 'pretrain.jsonl'), { internlmCompat: true }))).map(
      (x) => x.text,
    );
    expect(raw).toEqual(readFileSync(join(FIXTURES, 'pretrain.jsonl'), 'utf8').split(/(?<=\n)/));
    const field = (await collect(internlmDocs(join(FIXTURES, 'pretrain.jsonl'), {}))).map((x) => x.text);
    expect(field).toEqual(['Pretraining text one.', '第二段预训练文本。', '  padded  ']);
  });

  it('alpaca --split-ratio: train/valid sets identical to alpaca_tokenizer.py dump_bin_meta_bin on the same tokens', async () => {
    const tok = await loadTokenizer('default');
    const d = tmp();
    const input = join(FIXTURES, 'alpaca.json');
    await datasetToBin(input, join(d, 'weft'), {
      format: 'alpaca',
      template: 'internlm2_chat',
      tokenizer: tok,
      splitRatio: 0.5,
    });
    const samples = await collect(
      tokenizeFile(input, { format: 'alpaca', template: 'internlm2_chat', tokenizer: tok }),
    );
    const lines = samples.map((s) => Array.from(signedTokens(s.input_ids, s.labels)));
    expect(lines.length).toBe(3); // one <nooutput> record dropped
    expect(lines[0]!.some((t) => t < 0) && lines[0]!.some((t) => t > 0)).toBe(true);
    const j = join(d, 'lines.json');
    writeFileSync(j, JSON.stringify(lines));
    python('internlm_bin.py', ['split', j, join(d, 'py'), '0.5']);
    for (const part of ['train', 'valid']) {
      same(join(d, 'weft', part, 'en', 'dataset.bin'), join(d, 'py', part, 'en', 'dataset.bin'));
      same(join(d, 'weft', part, 'en', 'dataset.bin.meta'), join(d, 'py', part, 'en', 'dataset.bin.meta'));
    }
  });
});
