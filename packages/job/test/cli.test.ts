import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { packingCases } from '../../pack/test/golden.ts';
import { writeBinFolderWithNumpy } from '../../pack/test/write-bin.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const WEFT = new URL('../../cli/bin/weft.mjs', import.meta.url).pathname;
function weft(args: string[]): string {
  return execFileSync(process.execPath, [WEFT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** All rows of a datasets folder, read with apache-arrow's own IPC reader. */
function readFolder(dir: string): Record<string, number[][]> {
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { _data_files: { filename: string }[] };
  const out: Record<string, number[][]> = {};
  for (const { filename } of state._data_files) {
    const t = tableFromIPC(readFileSync(join(dir, filename)));
    for (const f of t.schema.fields) {
      const col = t.getChild(f.name)!;
      for (let r = 0; r < t.numRows; r++)
        (out[f.name] ??= []).push(Array.from(col.get(r)!.toArray() as Int32Array | BigInt64Array, Number)); // samples' labels are int64
    }
  }
  return out;
}

describe('weft pack', () => {
  for (const ci of [1, 5]) {
    it(`writes golden case ${ci} as an Arrow folder, one row per pack in pack order`, () => {
      const c = packingCases[ci]!;
      const base = tempDir('weft-cli-pack-');
      writeBinFolderWithNumpy(join(base, 'in'), c.files);
      const stdout = weft([
        'pack',
        join(base, 'in'),
        '--packed-length',
        String(c.packed_length),
        '--seed',
        String(c.seed),
        '--min-length',
        String(c.min_length),
        '--max-shard-size',
        '4096',
        '--quiet',
        '--out',
        join(base, 'out'),
        // Case 5 builds its packs on 2 worker threads: the same rows must come out.
        ...(ci === 5 ? ['--workers', '2'] : []),
      ]);
      expect(JSON.parse(stdout).packs).toBe(c.packs.length);
      const rows = readFolder(join(base, 'out'));
      for (const col of ['input_ids', 'labels', 'cumulative_len', 'position_ids'] as const) {
        expect(rows[col], col).toEqual(c.packs.map((p) => p[col]));
      }
    });
  }

  it('follows --data-order: files packed on their own, concatenated in the listed order', () => {
    const c = packingCases[1]!;
    const base = tempDir('weft-cli-order-');
    writeBinFolderWithNumpy(join(base, 'in'), c.files);
    writeFileSync(join(base, 'order.txt'), '002.bin\n000.bin\n');
    weft([
      'pack',
      join(base, 'in'),
      '--packed-length',
      '64',
      '--seed',
      String(c.seed),
      '--data-order',
      join(base, 'order.txt'),
      '--quiet',
      '--out',
      join(base, 'o'),
    ]);
    const got = readFolder(join(base, 'o')).input_ids!;
    const alone = (lines: number[][], name: string) => {
      writeBinFolderWithNumpy(join(base, name), [lines]);
      weft([
        'pack',
        join(base, name),
        '--packed-length',
        '64',
        '--seed',
        String(c.seed),
        '--quiet',
        '--out',
        join(base, `${name}-o`),
      ]);
      return readFolder(join(base, `${name}-o`)).input_ids ?? [];
    };
    expect(got).toEqual([...alone(c.files[2]!, 'f2'), ...alone(c.files[0]!, 'f0')]);
  });

  it('names the file when a .meta is missing', () => {
    const base = tempDir('weft-cli-bad-');
    writeBinFolderWithNumpy(join(base, 'in'), [[[1, 2, 3]]]);
    writeFileSync(join(base, 'in', '001.bin'), '{"tokens": [1]}\n');
    expect(() => weft(['pack', join(base, 'in'), '--packed-length', '2', '--out', join(base, 'o')])).toThrow(
      /001\.bin.*meta/,
    );
    expect(readdirSync(base)).toEqual(['in']);
  });
});

describe('weft process', () => {
  it('internlm format: a DatasetDict with one split per file, equal to the source lines', () => {
    const c = packingCases[1]!;
    const base = tempDir('weft-cli-proc-');
    writeBinFolderWithNumpy(join(base, 'in'), c.files);
    const summary = JSON.parse(
      weft(['process', join(base, 'in'), '--format', 'internlm', '--quiet', '--out', join(base, 'out')]),
    );
    const lines = c.files.flat();
    expect(summary).toMatchObject({
      files: 3,
      read: lines.length,
      kept: lines.length,
      skipped: {},
      tokens: lines.reduce((a, l) => a + l.length, 0),
    });
    expect(readFileSync(join(base, 'out', 'samples', 'dataset_dict.json'), 'utf8')).toBe('{"splits": ["0", "1", "2"]}');
    c.files.forEach((f, k) => {
      const rows = readFolder(join(base, 'out', 'samples', String(k)));
      expect(rows.input_ids ?? []).toEqual(f.map((l) => l.map(Math.abs)));
      expect(rows.labels ?? []).toEqual(f.map((l) => l.map((t) => (t > 0 ? t : -100))));
    });
    expect(JSON.parse(readFileSync(join(base, 'out', 'summary.json'), 'utf8'))).toEqual(summary);
  });

  it('ftdp format with the default tokenizer: counts bad lines when skipping, packs the samples', () => {
    const base = tempDir('weft-cli-ftdp-');
    const conv = (i: number) =>
      JSON.stringify([
        { role: 'user', content: `What is ${i} + ${i}?` },
        { role: 'assistant', content: `${2 * i}.` },
      ]);
    mkdirSync(join(base, 'in'));
    writeFileSync(join(base, 'in', 'a.json'), `${Array.from({ length: 30 }, (_, i) => conv(i)).join('\n')}\n{broken\n`);
    writeFileSync(join(base, 'in', 'b.json'), `${Array.from({ length: 20 }, (_, i) => conv(100 + i)).join('\n')}\n`);
    const summary = JSON.parse(
      weft([
        'process',
        join(base, 'in'),
        '--format',
        'ftdp',
        '--pack',
        '--packed-length',
        '64',
        '--on-error',
        'skip',
        '--quiet',
        '--out',
        join(base, 'out'),
      ]),
    );
    expect(summary.read).toBe(51);
    expect(summary.kept).toBe(50);
    expect(Object.values(summary.skipped as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(1);
    const packed = readFolder(join(base, 'out', 'packed'));
    expect(packed.input_ids!.length).toBe(summary.packs);
    expect(summary.pack_tokens + summary.waste_tokens).toBe(summary.tokens);
    for (const cl of packed.cumulative_len!) expect(cl[cl.length - 1]).toBe(64);
  });
});

describe('weft inspect', () => {
  it('brackets loss-masked tokens and marks piece boundaries (no TTY)', () => {
    const base = tempDir('weft-cli-insp-');
    writeBinFolderWithNumpy(join(base, 'in'), [
      [
        [5, -6, -7, 8],
        [9, 10, -11],
      ],
    ]);
    weft(['pack', join(base, 'in'), '--packed-length', '7', '--seed', '1024', '--quiet', '--out', join(base, 'o')]);
    const out = weft(['inspect', join(base, 'o')]);
    // seed 1024 shuffles [0, 1] to [0, 1]: line 0 then line 1 (golden shuffle.json, n = 2).
    expect(out).toContain('5 [6 7] 8 ‖ 9 10 [11]');
    expect(out).toMatch(/pack utilisation: 100\.00%/);
    const bin = weft(['inspect', join(base, 'in'), '--packed-length', '3']);
    expect(bin).toContain('5 [6 7] 8');
    expect(bin).toMatch(/packing at 3: 2 packs, 1 tail tokens dropped/);
  });
});
