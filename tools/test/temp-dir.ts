/**
 * Temp folders for tests that remove themselves: every folder made here is deleted after the test
 * file ends (an afterAll registered when this module is first imported by the file). The setup file
 * tmp-guard.ts fails any test file that leaves something behind.
 *
 * @example
 * import { tempDir } from '../../../tools/test/temp-dir.ts';
 * const dir = tempDir('weft-pack-'); // gone after the file's tests
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

afterAll(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A fresh folder under the temp dir, removed after this test file. */
export function tempDir(prefix = 'weft-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}
