/**
 * Vitest setup file (every project's `setupFiles`): each test file gets a fresh temp folder as
 * TMPDIR — for `os.tmpdir()`, Python's `tempfile` and every child process, which inherit it —
 * and fails when it is not empty after the file's own cleanup ran. A test that leaks a temp folder
 * fails, naming what it left; the folder is removed either way, so a leak never outlives the run.
 *
 * tsx keeps its compile cache in `<tmpdir>/tsx-<uid>`: that entry is a link to the real one, so
 * CLI spawns stay warm, and it is the one entry allowed.
 *
 * @example
 * // packages/x/vitest.config.ts
 * defineConfig({ test: { name: 'x', setupFiles: ['../../tools/test/tmp-guard.ts'] } });
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';

// The real temp dir, remembered once: files that share a worker must not nest their folders.
const real = process.env.WEFT_TEST_REAL_TMPDIR ?? tmpdir();
process.env.WEFT_TEST_REAL_TMPDIR = real;
const before = process.env.TMPDIR;
const dir = mkdtempSync(join(real, 'weft-test-'));
const tsxCache = `tsx-${userInfo().uid}`;
mkdirSync(join(real, tsxCache), { recursive: true });
symlinkSync(join(real, tsxCache), join(dir, tsxCache));
process.env.TMPDIR = dir;

/** What a test file left in its temp folder (the tsx cache link aside). */
export function leftovers(folder: string): string[] {
  return existsSync(folder)
    ? readdirSync(folder)
        .filter((e) => e !== tsxCache)
        .sort()
    : [];
}

function bytesUnder(path: string): number {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const e of readdirSync(path)) n += bytesUnder(join(path, e));
  return n;
}

afterAll(() => {
  const left = leftovers(dir);
  const bytes = left.reduce((a, e) => a + bytesUnder(join(dir, e)), 0);
  if (before === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = before;
  rmSync(dir, { recursive: true, force: true });
  expect(
    left,
    `this test file left ${left.length} entries (${(bytes / 1e6).toFixed(1)} MB) in its temp folder (${dir}): remove what a test creates in afterAll/afterEach`,
  ).toEqual([]);
});
