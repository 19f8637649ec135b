import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { detectKind, scanSources } from './sources.ts';
import { python } from '../test/python.ts';

const sample = resolve(dirname(fileURLToPath(import.meta.url)), '../../../data/sample');

describe('scanSources over the shipped sample', () => {
  it('classifies files and counts records as Python counts them', async () => {
    expect(await detectKind(`${sample}/ftdp/chat_en.json`)).toBe('ftdp');
    expect(await detectKind(`${sample}/alpaca/alpaca.json`)).toBe('json-array');
    expect(await detectKind(`${sample}/tokenized/en/part-000.bin.meta`)).toBeUndefined();
    const scan = await scanSources(sample, { read: true });
    const py = JSON.parse(
      python(
        `
import glob, json, os, sys
import numpy as np
root = sys.argv[1]
def rel(p): return os.path.relpath(p, root)
g = lambda pat: sorted(glob.glob(os.path.join(root, pat), recursive=True))
bins = g('**/*.bin')
lines = lambda fs: sum(1 for f in fs for l in open(f, encoding='utf-8') if l.strip())
out = {
  'internlm-bin': [len(bins), int(sum(len(np.load(f + '.meta')) for f in bins)), int(sum(np.load(f + '.meta')[:, 1].sum() for f in bins))],
  'ftdp': [len(g('ftdp/**/*.json')), lines(g('ftdp/**/*.json'))],
  'jsonl': [len(g('**/*.jsonl')), lines(g('**/*.jsonl'))],
  'json-array': [1, len(json.load(open(os.path.join(root, 'alpaca/alpaca.json'))))],
  'text': [len(g('**/*.txt')), lines(g('**/*.txt'))],
}
sys.stdout.write(json.dumps(out))
`,
        [sample],
      ).toString(),
    ) as Record<string, number[]>;
    const got = Object.fromEntries(
      scan.map((s) => [
        s.kind,
        s.kind === 'internlm-bin' ? [s.files.length, s.records, s.tokens] : [s.files.length, s.records],
      ]),
    );
    expect(got).toEqual(py);
    for (const s of scan) expect(s.rejected).toEqual({});
    expect(scan.find((s) => s.kind === 'ftdp')!.files).toEqual([
      'ftdp/chat_cn.json',
      'ftdp/chat_en.json',
      'ftdp/code/code_mixed.json',
    ]);
  });

  it('weft scan --json prints the same summary', () => {
    const r = spawnSync('node', [join(sample, '../../packages/cli/bin/weft.mjs'), 'scan', sample, '--json'], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { kind: string; records: number; files: string[] }[];
    expect(out.map((s) => s.kind)).toEqual(['internlm-bin', 'ftdp', 'jsonl', 'json-array', 'text']);
    expect(out[0]!.files).toEqual([
      'tokenized/cn/part-000.bin',
      'tokenized/cn/wiki/part-000.bin',
      'tokenized/en/part-000.bin',
      'tokenized/en/part-001.bin',
    ]);
  }, 30_000);
});
