import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*', 'tools', 'examples'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
