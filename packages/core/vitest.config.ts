import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'core',
    setupFiles: ['../../tools/test/tmp-guard.ts'],
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
