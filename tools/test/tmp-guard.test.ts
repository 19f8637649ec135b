import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { REPO } from './temp-workspace.ts';

it("the temp-folder guard fails a test file that leaks (its own folder or a child process's) and removes the leak", () => {
  const fixture = join(REPO, 'tools/test/fixtures/tmp-guard');
  const real = process.env.WEFT_TEST_REAL_TMPDIR!;
  const before = new Set(readdirSync(real));
  const r = spawnSync(
    process.execPath,
    [
      join(REPO, 'node_modules/vitest/vitest.mjs'),
      'run',
      '--root',
      fixture,
      '--config',
      join(fixture, 'vitest.config.ts'),
    ],
    { cwd: REPO, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } },
  );
  const out = r.stdout + r.stderr;
  expect(r.status, out).toBe(1);
  expect(out).toMatch(/FAIL\s+leaky\.check\.ts/);
  expect(out).toMatch(/this test file left 2 entries \([\d.]+ MB\) in its temp folder/);
  expect(out).toMatch(/"weft-leak-\w+"/);
  expect(out).toMatch(/"weft-pyleak-\w+"/);
  expect(out).toMatch(/Test Files\s+1 failed \| 1 passed \(2\)/);
  // Nothing of either file outlives the run in the real temp dir.
  const left = readdirSync(real).filter((e) => !before.has(e) && /^weft-(leak|pyleak|clean)-/.test(e));
  expect(left).toEqual([]);
});
