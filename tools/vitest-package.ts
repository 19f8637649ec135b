import { defineConfig } from 'vitest/config';
import { testCacheDir } from './vitest-cache.ts';

/**
 * The vitest config every package under `packages/` uses: its tests beside the code and in `test/`,
 * the TMPDIR leak guard, generous timeouts (Python references and worker processes on 2 cores), and
 * `WEFT_CACHE_DIR` pointed at a per-run temp folder that the global setup removes.
 *
 * @example
 * // packages/pack/vitest.config.ts
 * export default packageTestConfig('pack');
 */
export function packageTestConfig(name: string) {
  return defineConfig({
    test: {
      name,
      setupFiles: ['../../tools/test/tmp-guard.ts'],
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 120_000,
      hookTimeout: 120_000,
      env: { WEFT_CACHE_DIR: testCacheDir },
      globalSetup: ['../../tools/vitest-cache.ts'],
    },
  });
}
