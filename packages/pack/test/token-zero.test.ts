// Issue 14 item 6: a trained token 0 (Qwen's "!"). xtuner's encode_fn labels a trained token with
// itself, so token 0 is trained (label 0) in the Arrow outputs; an InternLM `.bin` stores loss as
// the sign of the token and there is no -0, so xtuner's JsonlDataset (`x if x > 0 else -100`), and
// weft reading a `.bin`, never train token 0. This pins weft's behaviour in each output format.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, pipe } from '@weft/core';
import { readInternlmBin } from '@weft/order';
import { datasetToBin, encode, readDataset, templateMap, type Tokenizer } from '@weft/tokenize';
import { runProcess, fileSamples } from '../src/process.ts';
import { trainableOnly } from '../src/trainable-only.ts';
import { ArrowDataset } from '../src/arrow-reader.ts';
import { PackedDataset } from '../src/packed-dataset.ts';
import { charTokenizer, python } from '../../tokenize/test/helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const PACK_REF = new URL('../../../tools/reference/pack_ref.py', import.meta.url).pathname;

/** The reference's char tokenizer with "!" as token 0 (xtuner_encode.py --zero !). */
function zeroBang(): Tokenizer {
  const base = charTokenizer(true);
  const enc = (t: string): Int32Array => Int32Array.from([...t].map((c) => (c === '!' ? 0 : c.codePointAt(0)! + 10)));
  return { ...base, encode: async (t) => enc(t), encodeBatch: async (ts) => ts.map(enc) };
}

// Record 0: "!" trained at the end of a reply, and untrained in the prompt. Record 1: the only
// trained token is 0, so `any(label >= 0)` keeps it. Record 2: "!" in a loss-false reply only.
const RECORDS = [
  [{ role: 'user', content: 'shout!' }, { role: 'assistant', content: 'yes!', loss: true }],
  [{ role: 'user', content: 'q' }, { role: 'assistant', content: '!', loss: true }],
  [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'no!', loss: false }],
];

type Row = { input_ids: number[]; labels: number[] };
const plain = (r: { input_ids: Int32Array; labels: Int32Array }): Row => ({ input_ids: Array.from(r.input_ids), labels: Array.from(r.labels) });
/** Positions of token 0 with label 0 (trained) and with label -100 (not). */
const zeros = (r: Row): { trained: number; untrained: number } => ({
  trained: r.input_ids.filter((t, i) => t === 0 && r.labels[i] === 0).length,
  untrained: r.input_ids.filter((t, i) => t === 0 && r.labels[i] === -100).length,
});

describe('token 0 in each output format', () => {
  const dir = tempDir('weft-token-zero-');
  const input = join(dir, 'in');
  mkdirSync(input);
  const file = join(input, 'a.json');
  writeFileSync(file, `${RECORDS.map((r) => JSON.stringify(r)).join('\n')}\n`);

  it('encode (samples): a trained token 0 has label 0, as the reference\'s encode_fn; the filter keeps a sample whose only trained token is 0', async () => {
    const ref = JSON.parse(python('xtuner_encode.py', ['ftdp', file, '100000', 'internlm2_chat', '--offline', '--zero', '!'])) as Record<string, (Row | { dropped: string })[]>;
    const keep = trainableOnly();
    const got = (await collect(pipe(readDataset(file, 'ftdp'), templateMap('internlm2_chat'), encode({ tokenizer: zeroBang(), maxLength: 100000 }), keep))).map(plain);
    expect(got).toEqual(ref.internlm2_chat!.filter((s) => !('dropped' in s)));
    expect(got.map(zeros)).toEqual([{ trained: 1, untrained: 1 }, { trained: 1, untrained: 0 }]);
    expect(keep.stats.rejected.get('no-trainable-token')).toBe(1);
  });

  it('weft process (Qwen3, "!" = token 0): samples and packed folders keep label 0 on a trained token 0', async () => {
    const out = join(dir, 'process');
    await runProcess({ input, format: 'ftdp', maxLength: 1000, pack: true, packedLength: 8, out, progress: false });
    const read = async (d: string): Promise<Row[]> => {
      const ds = await ArrowDataset.open(d);
      const rows: Row[] = [];
      for await (const r of ds.rows()) rows.push(plain({ input_ids: r.input_ids!, labels: r.labels! }));
      await ds.close();
      return rows;
    };
    const samples = await read(join(out, 'samples', '0'));
    expect(samples.map(zeros)).toEqual([{ trained: 1, untrained: 1 }, { trained: 1, untrained: 0 }]);
    const packed = await read(join(out, 'packed'));
    const total = packed.map(zeros).reduce((a, z) => ({ trained: a.trained + z.trained, untrained: a.untrained + z.untrained }), { trained: 0, untrained: 0 });
    // The packs hold every sample token but the tail that does not fill a pack.
    expect(total.trained).toBeGreaterThanOrEqual(1);
    expect(packed.flatMap((r) => r.labels.filter((l, i) => l === 0 && r.input_ids[i] !== 0))).toEqual([]);
  });

  it('weft tokenize (.bin): a trained token 0 is written as 0 and read back untrained, by weft and by the numpy reference of xtuner\'s JsonlDataset', async () => {
    const binDir = join(dir, 'bin');
    const bin = join(binDir, 'en', 'a.bin');
    await datasetToBin(file, bin, { format: 'ftdp', tokenizer: zeroBang(), template: 'internlm2_chat', progress: false });
    const lines = (await collect(readInternlmBin(bin))).map((r) => Array.from(r.tokens));
    // Record 1 ends "<|im_start|>assistant\n" + "!" + "<|im_end|>": the trained 0 is stored as 0, like an untrained one.
    expect(lines[1]!.filter((t) => t === 0)).toHaveLength(1);
    expect(lines[1]!.some((t) => t > 0)).toBe(true);
    // weft process --format internlm reads it untrained.
    const { samples } = await fileSamples(bin, { input: binDir, format: 'internlm', out: join(dir, 'unused') });
    for (const s of await collect(samples)) expect(zeros(plain(s)).trained).toBe(0);
    // Packing the .bin: weft equals pack_ref.py, and no pack trains token 0.
    const dump = join(dir, 'ref-packs.json');
    execFileSync('python3', [PACK_REF, binDir, '--packed-length', '16', '--seed', '7', '--dump', dump]);
    const want = JSON.parse(readFileSync(dump, 'utf8')) as (Row & { cumulative_len: number[] })[];
    const ds = await PackedDataset.fromBinFolder(binDir, { packedLength: 16, seed: 7 });
    const got = [];
    for await (const p of ds) got.push({ input_ids: Array.from(p.input_ids), labels: Array.from(p.labels), cumulative_len: Array.from(p.cumulative_len), position_ids: Array.from(p.position_ids) });
    await ds.close();
    expect(got).toEqual(want);
    expect(got.flatMap((p) => p.labels.filter((l) => l === 0))).toEqual([]);
    expect(got.some((p) => p.input_ids.includes(0))).toBe(true);
  });
});
