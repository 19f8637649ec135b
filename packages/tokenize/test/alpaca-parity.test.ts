// Issue 14 item 1: xtuner's alpaca_map_fn has put no system message on alpaca records since
// v0.1.14 (commit e53b55e, #363); weft used to add SYSTEM_TEMPLATE.alpaca to every record, and
// with minicpm (a template without SYSTEM) refused records xtuner encodes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, pipe } from '@weft/core';
import { encode } from '../src/encode.ts';
import { readDataset } from '../src/formats.ts';
import { templateMap } from '../src/template-map.ts';
import { PROMPT_TEMPLATES } from '../src/templates.ts';
import { charTokenizer, python } from './helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

type RefSample = { input_ids: number[]; labels: number[] } | { dropped: string };

const RECORDS = [
  { instruction: 'Add.', input: '2 and 3', output: '5' },
  { instruction: '翻译', input: '', output: 'hello' },
  { instruction: 'Skip me', input: '', output: '<nooutput>' },
  { instruction: 'Braces {input} {system}', input: 'x\ny', output: 'ok {round}' },
];

describe('alpaca maps as xtuner alpaca_map_fn (no system message), on every template', () => {
  const dir = tempDir('weft-alpaca-');
  const file = join(dir, 'alpaca.json');
  writeFileSync(file, JSON.stringify(RECORDS));
  const templates = Object.keys(PROMPT_TEMPLATES); // minicpm included: it has no SYSTEM
  const ref = JSON.parse(python('xtuner_encode.py', ['alpaca', file, '100000', templates.join(',')])) as Record<
    string,
    RefSample[]
  >;

  for (const t of templates) {
    it(t, async () => {
      const samples = await collect(
        pipe(
          readDataset(file, 'alpaca'),
          templateMap(t),
          encode({ tokenizer: charTokenizer(true), maxLength: 100000 }),
        ),
      );
      expect(samples.map((s) => ({ input_ids: Array.from(s.input_ids), labels: Array.from(s.labels) }))).toEqual(
        ref[t]!.filter((s) => !('dropped' in s)),
      );
    });
  }

  it('the mapped record is one user turn "instruction\\ninput" and the reply, nothing else', async () => {
    const [c] = await collect(readDataset(file, 'alpaca'));
    expect(c).toMatchObject({
      messages: [
        { role: 'user', content: 'Add.\n2 and 3' },
        { role: 'assistant', content: '5' },
      ],
    });
  });
});
