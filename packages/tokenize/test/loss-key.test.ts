// Issue 14 item 3: a `loss` key on only some messages of a file. xtuner reads a file as one HF
// `datasets` Dataset, whose messages get the union of all message keys: a message without `loss`
// has `loss: None`, and openai_map_fn's `str(None).lower() == "true"` does not train it. The
// reference (tools/reference/xtuner_encode.py) reproduces that None-filling file-wide.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, pipe, type Sample } from '@weft/core';
import { readInternlmBin } from '@weft/order';
import { encode } from '../src/encode.ts';
import { readDataset, type DatasetFormat } from '../src/formats.ts';
import { datasetToBin } from '../src/internlm-tokenize.ts';
import { lossKeyInFile } from '../src/loss-key.ts';
import { templateMap } from '../src/template-map.ts';
import { charTokenizer, python } from './helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

type RefSample = { input_ids: number[]; labels: number[] } | { dropped: string };
type Msg = Record<string, unknown>;

const u = (content: string): Msg => ({ role: 'user', content });
const a = (content: string, loss?: unknown): Msg =>
  loss === undefined ? { role: 'assistant', content } : { role: 'assistant', content, loss };

// name → records (ftdp lines); the line text is JSON.stringify unless the case says otherwise.
const CASES: Record<string, { records: Msg[][]; lossKey: boolean; trained: boolean[]; raw?: string }> = {
  // the case: one reply says loss true, the others say nothing → only that one trains
  mixed: {
    records: [
      [u('q1'), a('r1', true)],
      [u('q2'), a('r2')],
      [u('q3'), a('r3a'), u('q4'), a('r4', 'True')],
    ],
    lossKey: true,
    trained: [true, false, true],
  },
  // the key on a user message only still adds the field: no reply of the file trains
  'user-only': {
    records: [
      [u('q1'), a('r1')],
      [{ role: 'user', content: 'q2', loss: false }, a('r2')],
    ],
    lossKey: true,
    trained: [false, false],
  },
  // an explicit null reads None too
  'null-loss': {
    records: [
      [u('q1'), a('r1', null)],
      [u('q2'), a('r2')],
    ],
    lossKey: true,
    trained: [false, false],
  },
  // no key anywhere ("loss" only inside contents, even a whole content "loss"): every reply trains
  'no-key': {
    records: [
      [u('the "loss" key'), a('loss')],
      [u('q'), a('r')],
    ],
    lossKey: false,
    trained: [true, true],
  },
  // the key spelled with a \u escape is still the key
  escaped: {
    records: [],
    lossKey: true,
    trained: [true, false],
    raw: '[{"role": "user", "content": "q"}, {"role": "assistant", "content": "r", "\\u006coss": true}]\n[{"role": "user", "content": "q2"}, {"role": "assistant", "content": "r2"}]\n',
  },
};

const TEMPLATES = ['internlm2_chat', 'default', 'llama3_chat'];

describe('a loss key on some messages of a file: the others are not trained, as through HF datasets', () => {
  const dir = tempDir('weft-loss-key-');
  const write = (name: string, format: DatasetFormat): string => {
    const c = CASES[name]!;
    const file = join(dir, `${name}.${format === 'ftdp' ? 'json' : 'jsonl'}`);
    const text =
      c.raw ?? c.records.map((r) => JSON.stringify(format === 'ftdp' ? r : { messages: r })).join('\n') + '\n';
    writeFileSync(
      file,
      format === 'openai' && c.raw
        ? c.raw
            .split('\n')
            .filter(Boolean)
            .map((l) => `{"messages": ${l}}`)
            .join('\n') + '\n'
        : text,
    );
    return file;
  };
  const plain = (s: Sample): { input_ids: number[]; labels: number[] } => ({
    input_ids: Array.from(s.input_ids),
    labels: Array.from(s.labels),
  });

  for (const format of ['ftdp', 'openai'] as const) {
    for (const name of Object.keys(CASES)) {
      it(`${format} ${name}: samples equal the reference's, every template`, async () => {
        const file = write(name, format);
        expect(await lossKeyInFile(file, format)).toBe(CASES[name]!.lossKey);
        const ref = JSON.parse(python('xtuner_encode.py', [format, file, '100000', TEMPLATES.join(',')])) as Record<
          string,
          RefSample[]
        >;
        for (const t of TEMPLATES) {
          const got = await collect(
            pipe(
              readDataset(file, format),
              templateMap(t),
              encode({ tokenizer: charTokenizer(true), maxLength: 100000 }),
            ),
          );
          expect(got.map(plain), t).toEqual(ref[t]);
        }
        // Which samples train at all: pinned, so that the case is not vacuous.
        expect(ref.internlm2_chat!.map((s) => 'labels' in s && s.labels.some((l) => l >= 0))).toEqual(
          CASES[name]!.trained,
        );
      });
    }
  }

  it('a byte range that holds no loss key still follows the whole file (process reads large files in ranges)', async () => {
    const file = write('mixed', 'ftdp');
    const firstLine = JSON.stringify(CASES.mixed!.records[0]) + '\n';
    const range = { start: Buffer.byteLength(firstLine), end: statSync(file).size };
    const got = await collect(
      pipe(
        readDataset(file, 'ftdp', { range }),
        templateMap('internlm2_chat'),
        encode({ tokenizer: charTokenizer(true), maxLength: 100000 }),
      ),
    );
    const ref = JSON.parse(python('xtuner_encode.py', ['ftdp', file, '100000', 'internlm2_chat'])) as Record<
      string,
      RefSample[]
    >;
    expect(got.map(plain)).toEqual(ref.internlm2_chat!.slice(1));
    // r2 (no key) is not trained; r4 ('True') is.
    expect(got[0]!.labels.every((l) => l < 0)).toBe(true);
    expect(got[1]!.labels.some((l) => l >= 0)).toBe(true);
  });

  it("a URL is read once more for the key; a missing file gets the reader's error", async () => {
    const file = write('mixed', 'ftdp');
    const server = createServer((_, res) => res.end(readFileSync(file)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mixed.json`;
      const got = await collect(
        pipe(
          readDataset(url, 'ftdp'),
          templateMap('internlm2_chat'),
          encode({ tokenizer: charTokenizer(true), maxLength: 100000 }),
        ),
      );
      const ref = JSON.parse(python('xtuner_encode.py', ['ftdp', file, '100000', 'internlm2_chat'])) as Record<
        string,
        RefSample[]
      >;
      expect(got.map(plain)).toEqual(ref.internlm2_chat);
    } finally {
      await new Promise((r) => server.close(r));
    }
    await expect(collect(readDataset(join(dir, 'missing.json'), 'ftdp'))).rejects.toThrow(/missing\.json/);
  });

  it('weft tokenize (.bin): untrained replies are negative tokens, as the reference labels them', async () => {
    const file = write('mixed', 'openai');
    const bin = join(dir, 'out', 'en', 'mixed.bin');
    await datasetToBin(file, bin, {
      format: 'openai',
      tokenizer: charTokenizer(true),
      template: 'internlm2_chat',
      progress: false,
    });
    const back = (await collect(readInternlmBin(bin))).map((r) => Array.from(r.tokens));
    const ref = JSON.parse(python('xtuner_encode.py', ['openai', file, '100000', 'internlm2_chat'])) as Record<
      string,
      RefSample[]
    >;
    const signed = ref.internlm2_chat!.map((s) =>
      'labels' in s ? s.input_ids.map((t, i) => (s.labels[i]! < 0 ? -t : t)) : [],
    );
    expect(back).toEqual(signed);
  });
});
