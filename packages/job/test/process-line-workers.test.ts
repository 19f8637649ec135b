import { describe, expect, it } from 'vitest';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runProcess } from '../src/process.ts';
import { treeRecord } from './shard-helpers.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

// With workers, ftdp lines are read, parsed, templated and encoded in the workers from raw batches
// of lines (64 KiB); the in-thread stages (0 workers) are the reference for bytes, counts and errors.
describe('weft process: workers tokenize raw line batches', () => {
  const base = tempDir('weft-line-workers-');
  const input = join(base, 'in');
  mkdirSync(input);
  const words = 'alpha beta gamma delta 数据 模型 训练 token'.split(' ');
  const text = (k: number, n: number): string =>
    Array.from({ length: n }, (_, i) => words[(k * 7 + i * 3) % words.length]).join(' ');
  const badLines = [
    '',
    '[{"role": "user", "content": "cut',
    '{"not": "an array"}',
    '[{"role": "user", "content": "no reply"}]',
    '[{"role": "robot", "content": "x"}]',
  ];
  for (const [f, count] of [
    [0, 260],
    [1, 30],
  ] as const) {
    const lines: (string | Buffer)[] = [];
    for (let k = 0; k < count; k++) {
      lines.push(
        JSON.stringify([
          { role: 'user', content: text(k + f, 60 + (k % 11) * 30) },
          { role: 'assistant', content: text(k * 3 + f, 80 + (k % 13) * 25) },
        ]),
      );
      if (k % 37 === 36) lines.push(badLines[(Math.floor(k / 37) + f) % badLines.length]!);
      if (k === 100 && f === 0) lines.push(Buffer.from([0x5b, 0xc3, 0x28, 0x5d])); // not UTF-8
    }
    const bytes = Buffer.concat(lines.map((l) => Buffer.concat([Buffer.from(l), Buffer.from('\n')])));
    writeFileSync(join(input, `part-${f}.json`), bytes);
  }

  it('skip: 0, 1 and 4 workers write the same bytes and count the same skips', async () => {
    const outs: Record<string, string>[] = [];
    const summaries: unknown[] = [];
    for (const workers of [0, 1, 4]) {
      const out = join(base, `skip-${workers}`);
      const summary = await runProcess({
        input,
        format: 'ftdp',
        workers,
        maxLength: 500,
        onError: 'skip',
        out,
        progress: false,
      });
      summaries.push(summary);
      outs.push(treeRecord(out));
    }
    expect(statSync(join(input, 'part-0.json')).size).toBeGreaterThan(4 << 16); // several batches
    const s = summaries[0] as { read: number; kept: number; skipped: Record<string, number> };
    // (no-trainable-token: replies cut off by maxLength 500.)
    expect(s.skipped).toEqual({
      empty: 2,
      'malformed-json': 2,
      'non-utf8': 1,
      'bad-record': 1,
      'unknown-role': 1,
      'empty-conversation': 1,
      'no-trainable-token': 50,
    });
    expect(s.read).toBe(s.kept + Object.values(s.skipped).reduce((a, b) => a + b, 0));
    expect(summaries[1]).toEqual(summaries[0]);
    expect(summaries[2]).toEqual(summaries[0]);
    expect(outs[1]).toEqual(outs[0]);
    expect(outs[2]).toEqual(outs[0]);
  });

  it('fail: 0, 1 and 4 workers stop at the same line with the same message', async () => {
    const errors: string[] = [];
    for (const workers of [0, 1, 4]) {
      const e = await runProcess({
        input,
        format: 'ftdp',
        workers,
        out: join(base, `fail-${workers}`),
        progress: false,
      }).then(
        () => undefined,
        (x: Error) => x.message,
      );
      errors.push(e ?? 'no error');
    }
    // Line 38 is blank (dropped, not an error); the first error is the cut-off JSON after 37 more records.
    expect(errors[0]).toMatch(/part-0\.json: line 76 \(byte \d+\): malformed JSON/);
    expect(errors[1]).toBe(errors[0]);
    expect(errors[2]).toBe(errors[0]);
  });
});
