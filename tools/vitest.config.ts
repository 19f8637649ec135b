import { defineConfig } from 'vitest/config';
import { testCacheDir } from './vitest-cache.ts';

export default defineConfig({
  test: {
    name: 'tools',
    setupFiles: ['./test/tmp-guard.ts'],
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    env: { WEFT_CACHE_DIR: testCacheDir },
    globalSetup: ['./vitest-cache.ts'],
  },
});
