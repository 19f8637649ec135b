import { defineConfig } from 'vitest/config';
import { testCacheDir } from '../tools/vitest-cache.ts';

export default defineConfig({
  test: {
    name: 'examples',
    setupFiles: ['../tools/test/tmp-guard.ts'],
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 120_000,
    env: { WEFT_CACHE_DIR: testCacheDir },
    globalSetup: ['../tools/vitest-cache.ts'],
  },
});
