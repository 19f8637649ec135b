import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'examples', setupFiles: ['../tools/test/tmp-guard.ts'], include: ['**/*.test.ts'], exclude: ['**/node_modules/**'], testTimeout: 120_000 } });
