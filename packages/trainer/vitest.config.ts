import { defineConfig } from 'vitest/config';
import { testCacheDir } from '../../tools/vitest-cache.ts';

export default defineConfig({
  test: {
    name: 'trainer',
    setupFiles: ['../../tools/test/tmp-guard.ts'],
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    env: { WEFT_CACHE_DIR: testCacheDir },
    globalSetup: ['../../tools/vitest-cache.ts'],
  },
});
