import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FORMATS, PROMPT_TEMPLATES } from '../src/index.ts';
import { FIXTURES, REPO } from './helpers.ts';

const weft = (...args: string[]): string => execFileSync(process.execPath, [join(REPO, 'packages/cli/bin/weft.mjs'), ...args], { encoding: 'utf8', cwd: REPO });

describe('weft CLI', () => {
  it('list-formats and list-templates --json', () => {
    const out = weft('list-formats');
    for (const f of FORMATS) expect(out).toContain(`${f.name}\n`);
    expect(JSON.parse(weft('list-templates', '--json'))).toEqual(PROMPT_TEMPLATES);
  });

  it('tokenize with 2 worker threads exits cleanly and writes the same bytes as 0 workers', () => {
    const d = mkdtempSync(join(tmpdir(), 'weft-cli-'));
    for (const w of ['0', '2']) weft('tokenize', '--text-input-path', join(FIXTURES, 'pretrain.txt'), '--bin-output-path', join(d, w, 'en', 'p.bin'), '--workers', w);
    expect(readFileSync(join(d, '2', 'en', 'p.bin')).equals(readFileSync(join(d, '0', 'en', 'p.bin')))).toBe(true);
    expect(readFileSync(join(d, '2', 'en', 'p.bin.meta')).equals(readFileSync(join(d, '0', 'en', 'p.bin.meta')))).toBe(true);
    expect(readFileSync(join(d, '0', 'en', 'p.bin'), 'utf8').split('\n').length).toBe(4);
  });
});
