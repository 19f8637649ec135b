// Issue 14 item 4: an input file with no trainable conversation. xtuner's offline job stops with an
// error there (after the `any(label >= 0)` filter leaves 0 rows, `.map(get_lengths)` on the empty
// Dataset adds no column and `dataset["length"]` fails); weft writes the split empty, and now says so:
// `empty_splits` in the summary and a NOTE line on stderr naming the file.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { registerCommands } from '../src/cli.ts';
import { ArrowDataset } from '../src/arrow-reader.ts';
import { emptySplitsNote, type ProcessSummary } from '../src/process.ts';
import { python } from '../../tokenize/test/helpers.ts';
import { stderrOf } from './stderr.ts';
import { tempDir } from '../../../tools/test/temp-dir.ts';

const conv = (q: string, a: string, loss: boolean): string => JSON.stringify([{ role: 'user', content: q }, { role: 'assistant', content: a, loss }]);

describe('a file with no trainable conversation', () => {
  const dir = tempDir('weft-empty-split-');
  const input = join(dir, 'in');
  mkdirSync(input);
  writeFileSync(join(input, 'a.json'), `${conv('hi', 'hello', true)}\n${conv('q', 'not trained', false)}\n`);
  writeFileSync(join(input, 'b.json'), `${conv('q1', 'r1', false)}\n${conv('q2', 'r2', false)}\n`);

  it('weft process writes its split empty and says so in the summary and on stderr; counts equal the reference\'s', async () => {
    // The reference drops every sample of b.json (the filter), where xtuner's job then stops.
    const dropped = (f: string): string[] => (JSON.parse(python('xtuner_encode.py', ['ftdp', join(input, f), '32768', 'internlm2_chat', '--offline'])) as Record<string, { dropped?: string }[]>)
      .internlm2_chat!.map((s) => s.dropped ?? 'kept');
    expect(dropped('a.json')).toEqual(['kept', 'no-trainable-token']);
    expect(dropped('b.json')).toEqual(['no-trainable-token', 'no-trainable-token']);

    const out = join(dir, 'out');
    const program = new Command().exitOverride();
    registerCommands(program);
    let stdout = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { stdout += String(s); return true; });
    let lines: string[];
    try {
      lines = await stderrOf(() => program.parseAsync(['process', input, '--format', 'ftdp', '--workers', '0', '--quiet', '--out', out], { from: 'user' }));
    } finally {
      spy.mockRestore();
    }
    const summary = JSON.parse(stdout) as ProcessSummary;
    expect(summary).toMatchObject({ files: 2, read: 4, kept: 1, skipped: { 'no-trainable-token': 3 }, empty_splits: ['b.json'] });
    expect(lines).toContain(emptySplitsNote(summary));
    expect(lines.join('\n')).toMatch(/NOTE: 1 of 2 input files gave no trainable sample, so its split is empty: b\.json \(xtuner's offline job stops with an error/);
    const ds = await ArrowDataset.open(join(out, 'samples', '1'));
    expect(ds.length).toBe(0);
    await ds.close();
  });

  it('no note when every file has a sample', () => {
    expect(emptySplitsNote({ files: 2, empty_splits: [] })).toBeUndefined();
  });
});
