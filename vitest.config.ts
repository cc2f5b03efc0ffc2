import { defineConfig } from 'vitest/config';

// One run covers every workspace. Integration tests talk to real SQLite / PostgreSQL / Redis,
// so they get generous timeouts; the dialect list comes from KEFU_TEST_DIALECTS.
export default defineConfig({
  test: {
    include: [
      '{shared,server,wechat-sim}/**/*.test.ts',
      'web/src/**/*.test.ts',
      'web/e2e/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
