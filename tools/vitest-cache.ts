/**
 * Tests must not write into the user's cache: a package whose code uses weft's cache folder
 * (`.bin` token sidecars) points `WEFT_CACHE_DIR` at a temp folder for the run (its vitest config
 * sets `env`) and lists this file as `globalSetup`, whose teardown removes the folder. Every package's
 * config gets both from `packageTestConfig` (vitest-package.ts).
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One folder per vitest run (the config and the global setup run in the same main process). */
export const testCacheDir = join(tmpdir(), `weft-test-cache-${process.pid}`);

export function teardown(): void {
  rmSync(testCacheDir, { recursive: true, force: true });
}
