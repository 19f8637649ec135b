import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../tools/test/temp-dir.ts';
import { FORMATS } from '../src/formats.ts';
import { PROMPT_TEMPLATES } from '../src/templates.ts';
import { FIXTURES, REPO } from './helpers.ts';

const weft = (...args: string[]): string =>
  execFileSync(process.execPath, [join(REPO, 'packages/cli/bin/weft.mjs'), ...args], { encoding: 'utf8', cwd: REPO });

describe('weft CLI', () => {
  it('list-formats and list-templates --json', () => {
    const out = weft('list-formats');
    for (const f of FORMATS) expect(out).toContain(`${f.name}\n`);
    expect(JSON.parse(weft('list-templates', '--json'))).toEqual(PROMPT_TEMPLATES);
  });

  it('tokenize with 2 worker threads exits cleanly and writes the same bytes as 0 workers; off a TTY, progress is plain lines on stderr', () => {
    const d = tempDir('weft-cli-');
    const stderr: Record<string, string> = {};
    for (const w of ['0', '2']) {
      // stderr is a pipe here, as in a log; WEFT_PROGRESS_INTERVAL=0 draws at every update.
      const r = spawnSync(
        process.execPath,
        [
          join(REPO, 'packages/cli/bin/weft.mjs'),
          'tokenize',
          '--text-input-path',
          join(FIXTURES, 'pretrain.txt'),
          '--bin-output-path',
          join(d, w, 'en', 'p.bin'),
          '--workers',
          w,
          ...(w === '0' ? ['--quiet'] : []),
        ],
        { encoding: 'utf8', cwd: REPO, env: { ...process.env, WEFT_PROGRESS_INTERVAL: '0' } },
      );
      expect(r.status, r.stderr).toBe(0);
      stderr[w] = r.stderr;
    }
    const size = readFileSync(join(FIXTURES, 'pretrain.txt')).length;
    const lines = stderr['2']!.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines)
      expect(l).toMatch(
        /^tokenize pretrain\.txt: \d+\.\d% \d+ B of \d+ B, \d+(\.\d)? [kM]?B\/s, (ETA|took) (\d\d:\d\d|--:--) \| \d+ docs \(.*\/s\) \| \d+ tok \(.*\/s\)$/,
      );
    expect(lines.at(-1)).toMatch(
      new RegExp(`^tokenize pretrain\\.txt: 100\\.0% ${size} B of ${size} B, .*, took .* \\| 3 docs `),
    );
    expect(stderr['0']).toBe(''); // --quiet
    expect(readFileSync(join(d, '2', 'en', 'p.bin')).equals(readFileSync(join(d, '0', 'en', 'p.bin')))).toBe(true);
    expect(readFileSync(join(d, '2', 'en', 'p.bin.meta')).equals(readFileSync(join(d, '0', 'en', 'p.bin.meta')))).toBe(
      true,
    );
    expect(readFileSync(join(d, '0', 'en', 'p.bin'), 'utf8').split('\n').length).toBe(4);
  });

  it('tokenize and process default to the same --template and --workers', () => {
    const defaults = (help: string) =>
      ['--template', '--workers'].map((o) => new RegExp(`${o} <\\w+>[^]*?\\(default: ([^)]*)\\)`).exec(help)?.[1]);
    const tok = defaults(weft('tokenize', '--help'));
    expect(tok).toEqual(['"internlm2_chat"', String(Math.min(256, availableParallelism()))]);
    expect(defaults(weft('process', '--help'))).toEqual(tok);
  });
});
