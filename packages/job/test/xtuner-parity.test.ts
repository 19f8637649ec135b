// Issue 14 items 4, 5 and 6: weft process against xtuner's real pipeline, in one file so that the
// default tokenizer (Qwen3, about 4 s to load) is loaded once for the three.
//
// Issue 14 item 4: an input file with no trainable conversation. xtuner's offline job stops with an
// error there (after the `any(label >= 0)` filter leaves 0 rows, `.map(get_lengths)` on the empty
// Dataset adds no column and `dataset["length"]` fails); weft writes the split empty, and now says so:
// `empty_splits` in the summary and a NOTE line on stderr naming the file.
//
// Issue 14 item 5: xtuner's saved samples have `labels` int64 and `input_ids` int32 (datasets narrows
// the column named input_ids; labels stay Python ints). `weft process` wrote both int32. The features
// are compared with what HF `datasets` itself builds and saves for xtuner's pipeline
// (tools/reference/xtuner_saved_samples.py), and weft reads both widths back.
//
// Issue 14 item 6: a trained token 0 (Qwen's "!"). xtuner's encode_fn labels a trained token with
// itself, so token 0 is trained (label 0) in the Arrow outputs; an InternLM `.bin` stores loss as
// the sign of the token and there is no -0, so xtuner's JsonlDataset (`x if x > 0 else -100`), and
// weft reading a `.bin`, never train token 0. This pins weft's behaviour in each output format.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { collect, pipe } from '@weft/core';
import { readInternlmBin } from '@weft/order';
import { datasetToBin, encode, readDataset, templateMap, type Tokenizer } from '@weft/tokenize';
import { registerCommands } from '../src/cli.ts';
import { emptySplitsNote, runProcess, type ProcessSummary } from '../src/process.ts';
import { fileSamples } from '../src/samples.ts';
import { trainableOnly } from '@weft/pack';
import { ArrowDataset } from '@weft/pack';
import { ArrowSource } from '@weft/pack';
import { PackedDataset } from '@weft/pack';
import { charTokenizer, python } from '../../tokenize/test/helpers.ts';
import { stderrOf } from './stderr.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const conv = (q: string, a: string, loss: boolean): string =>
  JSON.stringify([
    { role: 'user', content: q },
    { role: 'assistant', content: a, loss },
  ]);

describe('a file with no trainable conversation', () => {
  const dir = tempDir('weft-empty-split-');
  const input = join(dir, 'in');
  mkdirSync(input);
  writeFileSync(join(input, 'a.json'), `${conv('hi', 'hello', true)}\n${conv('q', 'not trained', false)}\n`);
  writeFileSync(join(input, 'b.json'), `${conv('q1', 'r1', false)}\n${conv('q2', 'r2', false)}\n`);

  it("weft process writes its split empty and says so in the summary and on stderr; counts equal the reference's", async () => {
    // The reference drops every sample of b.json (the filter), where xtuner's job then stops.
    const dropped = (f: string): string[] =>
      (
        JSON.parse(
          python('xtuner_encode.py', ['ftdp', join(input, f), '32768', 'internlm2_chat', '--offline']),
        ) as Record<string, { dropped?: string }[]>
      ).internlm2_chat!.map((s) => s.dropped ?? 'kept');
    expect(dropped('a.json')).toEqual(['kept', 'no-trainable-token']);
    expect(dropped('b.json')).toEqual(['no-trainable-token', 'no-trainable-token']);

    const out = join(dir, 'out');
    const program = new Command().exitOverride();
    registerCommands(program);
    let stdout = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      stdout += String(s);
      return true;
    });
    let lines: string[];
    try {
      lines = await stderrOf(() =>
        program.parseAsync(['process', input, '--format', 'ftdp', '--workers', '0', '--quiet', '--out', out], {
          from: 'user',
        }),
      );
    } finally {
      spy.mockRestore();
    }
    const summary = JSON.parse(stdout) as ProcessSummary;
    expect(summary).toMatchObject({
      files: 2,
      read: 4,
      kept: 1,
      skipped: { 'no-trainable-token': 3 },
      empty_splits: ['b.json'],
    });
    expect(lines).toContain(emptySplitsNote(summary));
    expect(lines.join('\n')).toMatch(
      /NOTE: 1 of 2 input files gave no trainable sample, so its split is empty: b\.json \(xtuner's offline job stops with an error/,
    );
    const ds = await ArrowDataset.open(join(out, 'samples', '1'));
    expect(ds.length).toBe(0);
    await ds.close();
  });

  it('no note when every file has a sample', () => {
    expect(emptySplitsNote({ files: 2, empty_splits: [] })).toBeUndefined();
  });
});

const SCRIPT = new URL('../../../tools/reference/xtuner_saved_samples.py', import.meta.url).pathname;
const msg = (role: string, content: string, loss?: boolean): Record<string, unknown> =>
  loss === undefined ? { role, content } : { role, content, loss };

async function rowsOf(dir: string): Promise<{ input_ids: number[]; labels: number[] }[]> {
  const ds = await ArrowDataset.open(dir);
  const out = [];
  for await (const r of ds.rows()) out.push({ input_ids: Array.from(r.input_ids!), labels: Array.from(r.labels!) });
  await ds.close();
  return out;
}

describe("samples folder: the feature types of xtuner's saved samples", () => {
  const dir = tempDir('weft-sample-dtypes-');
  const input = join(dir, 'in');
  mkdirSync(input);
  const records = Array.from({ length: 12 }, (_, i) => [
    msg('user', `question ${i} ${'x'.repeat(i * 7)}`),
    msg('assistant', `answer ${i}`),
  ]);
  writeFileSync(join(input, 'a.json'), `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
  const out = join(dir, 'out');
  const xtunerDir = join(dir, 'xtuner');

  it("load_from_disk gives input_ids int32, labels int64 (as datasets saves xtuner's), packed stays int32; rows equal", async () => {
    await runProcess({ input, format: 'ftdp', maxLength: 48, pack: true, packedLength: 64, out, progress: false });
    const r = JSON.parse(
      execFileSync('python3', [SCRIPT, out, xtunerDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
    ) as Record<string, { weft: string; xtuner: string; rows: number; rows_equal: boolean; labels_ok: boolean }> & {
      packed: string;
    };
    expect(r['0']!.rows).toBe(12);
    expect(r['0']!.weft).toBe(r['0']!.xtuner);
    expect(r['0']!.weft).toMatch(
      /'input_ids': (List|Sequence)\(.*Value\('int32'\).*'labels': (List|Sequence)\(.*Value\('int64'\)/,
    );
    expect(r['0']!.rows_equal).toBe(true);
    expect(r['0']!.labels_ok).toBe(true);
    expect(r.packed).not.toMatch(/int64/);
  });

  it('weft reads int64 labels written by datasets: the same rows, and the same packs as from its own folder', async () => {
    const fromXtuner = await rowsOf(join(xtunerDir, '0'));
    expect(fromXtuner).toEqual(await rowsOf(join(out, 'samples', '0')));
    const weftSrc = await ArrowSource.open(join(out, 'samples', '0'));
    const xtSrc = await ArrowSource.open(join(xtunerDir, '0'));
    // Both take the direct (positioned read) path, one over int64 values.
    expect(weftSrc.fillRange).toBeDefined();
    expect(xtSrc.fillRange).toBeDefined();
    const packsOf = async (src: ArrowSource): Promise<unknown[]> => {
      const ds = PackedDataset.fromSources([src], { packedLength: 40, seed: 3 });
      const got = [];
      for await (const p of ds)
        got.push({
          input_ids: Array.from(p.input_ids),
          labels: Array.from(p.labels),
          cumulative_len: Array.from(p.cumulative_len),
        });
      await ds.close();
      return got;
    };
    const a = await packsOf(weftSrc),
      b = await packsOf(xtSrc);
    expect(a.length).toBeGreaterThan(2);
    expect(b).toEqual(a);
  });
});

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
  [
    { role: 'user', content: 'shout!' },
    { role: 'assistant', content: 'yes!', loss: true },
  ],
  [
    { role: 'user', content: 'q' },
    { role: 'assistant', content: '!', loss: true },
  ],
  [
    { role: 'user', content: 'q' },
    { role: 'assistant', content: 'no!', loss: false },
  ],
];

type Row = { input_ids: number[]; labels: number[] };
const plain = (r: { input_ids: Int32Array; labels: Int32Array }): Row => ({
  input_ids: Array.from(r.input_ids),
  labels: Array.from(r.labels),
});
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

  it("encode (samples): a trained token 0 has label 0, as the reference's encode_fn; the filter keeps a sample whose only trained token is 0", async () => {
    const ref = JSON.parse(
      python('xtuner_encode.py', ['ftdp', file, '100000', 'internlm2_chat', '--offline', '--zero', '!']),
    ) as Record<string, (Row | { dropped: string })[]>;
    const keep = trainableOnly();
    const got = (
      await collect(
        pipe(
          readDataset(file, 'ftdp'),
          templateMap('internlm2_chat'),
          encode({ tokenizer: zeroBang(), maxLength: 100000 }),
          keep,
        ),
      )
    ).map(plain);
    expect(got).toEqual(ref.internlm2_chat!.filter((s) => !('dropped' in s)));
    expect(got.map(zeros)).toEqual([
      { trained: 1, untrained: 1 },
      { trained: 1, untrained: 0 },
    ]);
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
    expect(samples.map(zeros)).toEqual([
      { trained: 1, untrained: 1 },
      { trained: 1, untrained: 0 },
    ]);
    const packed = await read(join(out, 'packed'));
    const total = packed
      .map(zeros)
      .reduce((a, z) => ({ trained: a.trained + z.trained, untrained: a.untrained + z.untrained }), {
        trained: 0,
        untrained: 0,
      });
    // The packs hold every sample token but the tail that does not fill a pack.
    expect(total.trained).toBeGreaterThanOrEqual(1);
    expect(packed.flatMap((r) => r.labels.filter((l, i) => l === 0 && r.input_ids[i] !== 0))).toEqual([]);
  });

  it("weft tokenize (.bin): a trained token 0 is written as 0 and read back untrained, by weft and by the numpy reference of xtuner's JsonlDataset", async () => {
    const binDir = join(dir, 'bin');
    const bin = join(binDir, 'en', 'a.bin');
    await datasetToBin(file, bin, {
      format: 'ftdp',
      tokenizer: zeroBang(),
      template: 'internlm2_chat',
      progress: false,
    });
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
    for await (const p of ds)
      got.push({
        input_ids: Array.from(p.input_ids),
        labels: Array.from(p.labels),
        cumulative_len: Array.from(p.cumulative_len),
        position_ids: Array.from(p.position_ids),
      });
    await ds.close();
    expect(got).toEqual(want);
    expect(got.flatMap((p) => p.labels.filter((l) => l === 0))).toEqual([]);
    expect(got.some((p) => p.input_ids.includes(0))).toBe(true);
  });
});
