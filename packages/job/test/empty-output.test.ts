/**
 * Nothing silent: a run that makes no packs says so on stderr (exit 0), or with --strict fails
 * with exit 2 before writing; and an empty `.json` is zero records for `scan` and `process` alike.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emptyOutputProblem } from '@weft/core';
import { scanSources } from '@weft/order';
import { runProcess } from '../src/process.ts';
import { writeBinFolderWithNumpy } from '../../pack/test/write-bin.ts';

const WEFT = new URL('../../cli/bin/weft.mjs', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'weft-empty-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('empty results are loud', () => {
  it('weft pack with --packed-length above all the data: a WARNING and packs 0; with --strict exit 2 and no output folder', () => {
    const input = join(work, 'bins');
    writeBinFolderWithNumpy(input, [
      [
        [1, 2, 3],
        [4, -5],
      ],
      [[6, 7, 8, 9]],
    ]);
    const warn = spawnSync(
      process.execPath,
      [WEFT, 'pack', input, '--packed-length', '100', '--quiet', '--out', join(work, 'o1')],
      { encoding: 'utf8' },
    );
    expect(warn.status, warn.stderr).toBe(0);
    expect(JSON.parse(warn.stdout).packs).toBe(0);
    expect(warn.stderr).toMatch(
      /weft: WARNING: .*bins: no packs: the 9 tokens kept are fewer than one pack of --packed-length 100/,
    );
    const strict = spawnSync(
      process.execPath,
      [WEFT, 'pack', input, '--packed-length', '100', '--strict', '--quiet', '--out', join(work, 'o2')],
      { encoding: 'utf8' },
    );
    expect(strict.status, strict.stderr).toBe(2);
    expect(strict.stderr).toMatch(/DataError: .*bins: no packs: .*\(--strict\)/);
    expect(strict.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(work, 'o2'))).toBe(false);
  });

  it('an empty .json is zero records to scan and to process (was: scan counted a malformed file, process --format alpaca failed)', async () => {
    const dir = join(work, 'empty-json');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.json'), '');
    writeFileSync(join(dir, 'b.json'), ' \n\n');
    const scan = await scanSources(dir, { read: true });
    expect(
      scan.map((s) => ({ kind: s.kind, files: s.files.length, records: s.records, rejected: s.rejected })),
    ).toEqual([{ kind: 'json-array', files: 2, records: 0, rejected: {} }]);
    for (const format of ['alpaca', 'ftdp'] as const) {
      const summary = await runProcess({
        input: dir,
        format,
        fileType: '.json',
        pack: true,
        packedLength: 8,
        progress: false,
        out: join(work, `out-${format}`),
      });
      expect(summary, format).toMatchObject({ files: 2, kept: 0, packs: 0 });
      // ftdp reads .json line by line: its blank lines are counted, as dropped 'empty' lines, never as errors.
      expect(summary.skipped, format).toEqual(format === 'ftdp' ? { empty: 2 } : {});
      expect(summary.read).toBe(summary.kept + Object.values(summary.skipped).reduce((a, b) => a + b, 0));
      expect(emptyOutputProblem({ ...summary, input: dir })).toMatch(
        format === 'ftdp' ? /all 2 records were left out/ : /no records in the input/,
      );
    }
  });
});
