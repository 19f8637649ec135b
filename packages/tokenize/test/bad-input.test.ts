import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, isDataError, pipe } from '@weft/core';
import { encode } from '../src/encode.ts';
import { readDataset, type DatasetFormat } from '../src/formats.ts';
import { templateMap } from '../src/template-map.ts';
import { tokenizeFile } from '../src/tokenize-file.ts';
import { loadTokenizer } from '../src/tokenizer.ts';
import { charTokenizer } from './helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

function file(name: string, lines: unknown[]): string {
  const p = join(tempDir('weft-bad-'), name);
  writeFileSync(p, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return p;
}

const ok = [
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Yo' },
];

async function run(f: string, format: DatasetFormat, onError: 'fail' | 'skip') {
  const read = readDataset(f, format, { onError });
  const tpl = templateMap('internlm2_chat', { onError });
  const enc = encode({ tokenizer: charTokenizer(), onError });
  const samples = await collect(pipe(read, tpl, enc));
  const stats = [read.readerStats, read.stats, tpl.stats, enc.stats].map((s) => s.toJSON());
  const rejected: Record<string, number> = {};
  for (const st of stats) for (const [k, v] of Object.entries(st.rejected)) rejected[k] = (rejected[k] ?? 0) + v;
  return { samples, stats, rejected };
}

describe('bad chat records: a DataError naming file and line, or counted with onError skip', () => {
  const cases: [string, unknown, string, RegExp][] = [
    ['unknown role', [{ role: 'tool', content: 'x' }, ...ok], 'unknown-role', /message 0: unknown role "tool"/],
    ['missing content', [{ role: 'user' }, ok[1]], 'missing-content', /message 0: missing "content"/],
    [
      'non-string content',
      [{ role: 'user', content: [{ type: 'text', text: 'x' }] }, ok[1]],
      'bad-content',
      /"content" must be a string, got array/,
    ],
    [
      'null content',
      [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: null },
      ],
      'missing-content',
      /message 1: missing "content"/,
    ],
    ['not an array', { role: 'user' }, 'bad-record', /expected a JSON array of messages/],
    ['malformed JSON', '[{"role": "user", "content": "x"', 'malformed-json', /malformed JSON/],
  ];
  for (const [name, bad, reason, msg] of cases) {
    it(name, async () => {
      const f = file('a.json', [ok, bad, ok]);
      const err = await run(f, 'ftdp', 'fail').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isDataError(err)).toBe(true);
      expect((err as Error).message).toMatch(
        new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line 2 \\(byte \\d+\\): `),
      );
      expect((err as Error).message).toMatch(msg);
      const { samples, stats, rejected } = await run(f, 'ftdp', 'skip');
      expect(samples.length).toBe(2);
      expect(rejected).toEqual({ [reason]: 1 });
      expect(stats[0]!.seen).toBe(3); // records in = records out + records reported
    });
  }
});

describe('records with nothing to train on are dropped and counted, never fatal', () => {
  it('empty conversation, only system/user messages, only assistant messages', async () => {
    const f = file('a.json', [
      [],
      [
        { role: 'system', content: 's' },
        { role: 'user', content: 'u' },
      ],
      [{ role: 'assistant', content: 'a' }],
      ok,
    ]);
    const { samples, stats } = await run(f, 'ftdp', 'fail');
    expect(samples.length).toBe(1);
    expect(stats[2]).toMatchObject({ seen: 4, emitted: 1, rejected: { 'empty-conversation': 3 } });
  });

  it('assistant-first conversation: leading replies dropped (xtuner openai_map_fn), the rest kept', async () => {
    const f = file('a.json', [[{ role: 'assistant', content: 'lead' }, ...ok], ok]);
    const { samples } = await run(f, 'ftdp', 'fail');
    expect(Array.from(samples[0]!.input_ids)).toEqual(Array.from(samples[1]!.input_ids));
    expect(Array.from(samples[0]!.labels)).toEqual(Array.from(samples[1]!.labels));
  });

  it('text that tokenizes to nothing (whitespace-only pretrain text, Qwen: no BOS) is dropped as "empty"', async () => {
    const tok = await loadTokenizer('default');
    const f = file('p.jsonl', [{ text: ' \t\u3000 ' }, { text: 'real text' }, { text: '' }]);
    const s = tokenizeFile(f, { format: 'pretrain', tokenizer: tok });
    const out = await collect(s);
    expect(out.length).toBe(1);
    expect(Array.from(out[0]!.input_ids)).toEqual(Array.from(await tok.encode('real text')));
    expect(s.stats[3]!.toJSON()).toMatchObject({ seen: 3, emitted: 1, rejected: { empty: 2 } });
  });

  it('alpaca <nooutput> is dropped as "no-output"; a missing instruction is an error', async () => {
    const f = file('a.jsonl', [
      { instruction: 'i', input: '', output: '<nooutput>' },
      { instruction: 'i', output: 'o' },
      { input: 'x', output: 'o' },
    ]);
    await expect(run(f, 'alpaca', 'fail')).rejects.toThrow(/line 3 .*missing "instruction"/);
    const { samples, stats } = await run(f, 'alpaca', 'skip');
    expect(samples.length).toBe(1);
    expect(stats[1]).toMatchObject({ seen: 3, emitted: 1, rejected: { 'no-output': 1, 'missing-instruction': 1 } });
  });

  it('invalid UTF-8 names the line', async () => {
    const p = join(tempDir('weft-bad-'), 'u.jsonl');
    writeFileSync(
      p,
      Buffer.concat([Buffer.from('{"text": "ok"}\n{"text": "'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n')]),
    );
    await expect(collect(readDataset(p, 'pretrain'))).rejects.toThrow(/line 2 \(byte 15\): line is not valid UTF-8/);
  });

  it('loss flags read as str(loss).lower() == "true" (xtuner): "True" trains, 1 and null do not', async () => {
    const f = file(
      'a.json',
      ['"True"', 1, null, '"false"'].map(
        (l) => `[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "loss": ${l}}]`,
      ),
    );
    const { samples } = await run(f, 'ftdp', 'fail');
    expect(samples.map((s) => Array.from(s.labels).some((x) => x !== -100))).toEqual([true, false, false, false]);
  });
});
