import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProcess } from '../src/process.ts';
import { treeRecord } from './shard-helpers.ts';

const base = mkdtempSync(join(tmpdir(), 'weft-proc-workers-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('weft process with worker threads', () => {
  it('writes the same bytes with 0, 1 and 3 workers, one encoder pool serving every file', async () => {
    // Three files of uneven size, each cut into many batches (records of ~1.5k characters against
    // the 32k-character batch bound), so batches finish out of order across workers and files.
    const input = join(base, 'in');
    mkdirSync(input);
    const words = 'alpha beta gamma delta 数据 模型 训练 token'.split(' ');
    const text = (k: number, n: number): string =>
      Array.from({ length: n }, (_, i) => words[(k * 7 + i * 3) % words.length]).join(' ');
    for (const [f, count] of [
      [0, 90],
      [1, 7],
      [2, 140],
    ] as const) {
      const lines = Array.from({ length: count }, (_, k) =>
        JSON.stringify([
          { role: 'system', content: `sys ${f}` },
          { role: 'user', content: text(k + f, 40 + (k % 13) * 20) },
          { role: 'assistant', content: text(k * 3 + f, 60 + (k % 17) * 25), loss: k % 5 !== 0 },
        ]),
      );
      writeFileSync(join(input, `part-${f}.json`), `${lines.join('\n')}\n`);
    }
    const outs: Record<string, string>[] = [];
    for (const workers of [0, 1, 3]) {
      const out = join(base, `out-${workers}`);
      const summary = await runProcess({
        input,
        format: 'ftdp',
        workers,
        maxLength: 600,
        pack: true,
        packedLength: 1024,
        out,
        progress: false,
      });
      // Every fifth record trains nothing (its only reply is loss: false): 18 + 2 + 28 are dropped,
      // as xtuner's offline job filters them (`any(label >= 0)`).
      expect(summary).toMatchObject({ files: 3, read: 237, kept: 189, skipped: { 'no-trainable-token': 48 } });
      outs.push(treeRecord(out));
    }
    expect(Object.keys(outs[0]!)).toContain(join('samples', '2', 'state.json'));
    expect(outs[1]).toEqual(outs[0]);
    expect(outs[2]).toEqual(outs[0]);
  });
});
