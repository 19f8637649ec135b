import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const WEFT = new URL('../../cli/bin/weft.mjs', import.meta.url).pathname;
const base = mkdtempSync(join(tmpdir(), 'weft-max-record-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('weft process --max-record-bytes', () => {
  it('an over-limit line: exit 2 naming file, line, byte and size; with --on-error skip, counted', () => {
    const row = (t: string): string =>
      JSON.stringify([
        { role: 'user', content: 'q' },
        { role: 'assistant', content: t },
      ]);
    const input = join(base, 'chat.json');
    writeFileSync(input, `${row('short')}\n${row('x'.repeat(3000))}\n`);
    const fail = spawnSync(
      process.execPath,
      [WEFT, 'process', input, '--format', 'ftdp', '--max-record-bytes', '1KiB', '--quiet', '--out', join(base, 'a')],
      { encoding: 'utf8' },
    );
    expect(fail.status).toBe(2);
    expect(fail.stderr).toBe(
      `weft: DataError: ${input}: line 2 (byte ${row('short').length + 1}): record of 3.1 kB (3065 bytes) exceeds --max-record-bytes 1024 (1.0 kB): ` +
        'raise --max-record-bytes if the record is meant to be this large, or pass --on-error skip to leave it out\n',
    );
    expect(existsSync(join(base, 'a', 'summary.json'))).toBe(false);
    const skip = spawnSync(
      process.execPath,
      [
        WEFT,
        'process',
        input,
        '--format',
        'ftdp',
        '--max-record-bytes',
        '1KiB',
        '--on-error',
        'skip',
        '--quiet',
        '--out',
        join(base, 'b'),
      ],
      { encoding: 'utf8' },
    );
    expect(skip.status).toBe(0);
    const summary = JSON.parse(skip.stdout) as { read: number; kept: number; skipped: Record<string, number> };
    expect([summary.read, summary.kept, summary.skipped]).toEqual([2, 1, { 'record-too-large': 1 }]);
  });
});
