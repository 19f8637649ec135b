// Issue 14 item 2: xtuner's offline job (`process` in xtuner/dataset/huggingface.py) drops, after
// encode_fn's truncation and before packing, samples whose labels are all ignored
// (`any(label >= 0 ...)` filter). `weft process` kept them; now it drops them, counted as
// `no-trainable-token`, so records in = kept + skipped.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, pipe } from '@weft/core';
import { encode, readDataset, templateMap } from '@weft/tokenize';
import { runProcess } from '../src/process.ts';
import { trainableOnly } from '@weft/pack';
import { ArrowDataset } from '@weft/pack';
import { charTokenizer, python } from '../../tokenize/test/helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

type RefSample = { input_ids: number[]; labels: number[] } | { dropped: string };

const long = 'word '.repeat(120).trim();
// Replies meant to train say `loss: true`: some messages of the file have the key, so a reply without
// it would not be trained (xtuner reads it as None, see packages/tokenize/test/loss-key.test.ts).
const RECORDS = [
  [
    { role: 'user', content: 'hi' },
    { role: 'assistant', content: 'hello', loss: true },
  ],
  [
    { role: 'user', content: 'hi' },
    { role: 'assistant', content: 'not trained', loss: false },
  ],
  [
    { role: 'system', content: 'S' },
    { role: 'user', content: long },
    { role: 'assistant', content: 'cut off by max_length', loss: true },
  ],
  [
    { role: 'user', content: 'a' },
    { role: 'assistant', content: 'b', loss: false },
    { role: 'user', content: long },
    { role: 'assistant', content: 'cut', loss: true },
  ],
  [
    { role: 'user', content: 'q' },
    { role: 'assistant', content: 'kept', loss: 'True' },
  ],
];

describe("samples with no trainable token are dropped, as xtuner's offline job does", () => {
  const dir = tempDir('weft-no-trainable-');
  const input = join(dir, 'in');
  mkdirSync(input);
  const file = join(input, 'a.json');
  writeFileSync(file, `${RECORDS.map((r) => JSON.stringify(r)).join('\n')}\n`);

  for (const maxLength of [200, 100000]) {
    it(`char tokenizer, max_length ${maxLength}: the kept samples equal the Python reference's (--offline)`, async () => {
      const templates = ['internlm2_chat', 'default', 'llama3_chat', 'minicpm3'];
      const ref = JSON.parse(
        python('xtuner_encode.py', ['ftdp', file, String(maxLength), templates.join(','), '--offline']),
      ) as Record<string, RefSample[]>;
      for (const t of templates) {
        const keep = trainableOnly();
        const got = await collect(
          pipe(readDataset(file, 'ftdp'), templateMap(t), encode({ tokenizer: charTokenizer(true), maxLength }), keep),
        );
        const want = ref[t]!;
        expect(
          got.map((s) => ({ input_ids: Array.from(s.input_ids), labels: Array.from(s.labels) })),
          t,
        ).toEqual(want.filter((s) => !('dropped' in s)));
        expect(keep.stats.rejected.get('no-trainable-token') ?? 0, t).toBe(
          want.filter((s) => 'dropped' in s && s.dropped === 'no-trainable-token').length,
        );
      }
      // The fixture exercises the filter: loss false always drops one; truncation drops two more.
      expect(ref.internlm2_chat!.filter((s) => 'dropped' in s).length).toBe(maxLength === 200 ? 3 : 1);
    });
  }

  it('weft process drops them and counts them: read = kept + skipped, every written sample trains', async () => {
    // 40 tokens: the short records fit with any tokenizer; the 120-word prompts do not.
    const out = join(dir, 'out');
    const summary = await runProcess({
      input,
      format: 'ftdp',
      maxLength: 40,
      pack: true,
      packedLength: 64,
      out,
      progress: false,
    });
    expect(summary).toMatchObject({ read: 5, kept: 2, skipped: { 'no-trainable-token': 3 } });
    const ds = await ArrowDataset.open(join(out, 'samples', '0'));
    const rows = [];
    for await (const r of ds.rows()) rows.push(r);
    await ds.close();
    expect(rows).toHaveLength(2);
    for (const r of rows) expect(r.labels!.some((l) => l >= 0)).toBe(true);
  });
});
