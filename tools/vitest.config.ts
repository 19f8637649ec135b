import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { name: 'tools', setupFiles: ['./test/tmp-guard.ts'], include: ['**/*.test.ts'], exclude: ['**/node_modules/**'], testTimeout: 300_000, hookTimeout: 300_000 } });
