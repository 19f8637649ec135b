import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { IGNORE_INDEX, collect, type Sample } from '@weft/core';
import { loadTokenizer, type Tokenizer } from '@weft/tokenize';
import { chatPipeline, chatSamples } from './chat-pipeline.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const DATA = join(here, 'fixtures/ftdp');

/** What xtuner would tokenize, per record: the whole text and the part with loss (Python reference). */
const reference = (dir: string) =>
  JSON.parse(execFileSync('python3', [join(here, 'reference_render.py'), dir]).toString()) as {
    text: string;
    loss: string;
  }[];

describe('examples/chat-pipeline.ts', () => {
  let tok: Tokenizer;
  beforeAll(async () => {
    tok = await loadTokenizer('default');
  });

  it.each([
    ['the fixture', DATA],
    ['the shipped ftdp sample', join(here, '../data/sample/ftdp')],
  ])(
    'tokenizes every record of %s into the text xtuner renders, with loss exactly on the replies that have it',
    async (_, dir) => {
      const { samples, stats } = await chatSamples({ dataDir: dir, tokenizer: tok });
      const got = await collect(samples);
      const expected = reference(dir);
      expect(got.length).toBe(expected.length);
      for (let i = 0; i < got.length; i++) {
        const s = got[i]!;
        expect(await tok.decode(s.input_ids)).toBe(expected[i]!.text);
        expect(await tok.decode(s.input_ids.filter((_, j) => s.labels[j] !== IGNORE_INDEX))).toBe(expected[i]!.loss);
        // Wherever there is loss, the label is the token itself.
        s.labels.forEach((l, j) => {
          if (l !== IGNORE_INDEX) expect(l).toBe(s.input_ids[j]);
        });
      }
      expect(stats()).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ name: 'encode', seen: expected.length, emitted: expected.length }),
        ]),
      );
    },
  );

  it('packs the same samples into full packs whose documents restart their positions', async () => {
    const samples: Sample[] = [];
    const { packs } = await chatPipeline({
      dataDir: DATA,
      tokenizer: tok,
      packedLength: 40,
      onSample: (s) => samples.push(s),
    });
    const all = samples.flatMap((s) => [...s.input_ids]);
    expect(packs.length).toBe(Math.floor(all.length / 40));
    expect(packs.flatMap((p) => [...p.input_ids])).toEqual(all.slice(0, packs.length * 40));
    for (const p of packs) {
      const cu = [...p.cumulative_len];
      expect(cu[0]).toBe(0);
      expect(cu.at(-1)).toBe(40);
      for (let d = 0; d + 1 < cu.length; d++)
        for (let j = cu[d]!; j < cu[d + 1]!; j++) expect(p.position_ids[j]).toBe(j - cu[d]!);
    }
  });
});
