import { defineConfig } from 'vitest/config';

// The suite starts Kefu processes with this Node: on an older one they refuse to start (and
// better-sqlite3 13 needs 22+), which would show up as dozens of confusing failures.
if (Number(process.versions.node.split('.')[0]) < 24)
  throw new Error(
    `Kefu's tests need Node.js 24 or newer; this is ${process.version} (see README).`,
  );

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
