import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** Every .ts file under `dir` that is not a test. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

describe('environment variables and docs/deploying.md', () => {
  const root = path.resolve(import.meta.dirname, '../..');
  const doc = readFileSync(path.join(root, 'docs/deploying.md'), 'utf8');
  const documented = new Set(
    [...doc.matchAll(/^\| `(KEFU_[A-Z0-9_]+)`/gm)].map((m) => m[1]).filter((v) => v !== undefined),
  );
  const used = new Set<string>();
  for (const file of sources(path.join(root, 'server/src')))
    for (const m of readFileSync(file, 'utf8').matchAll(/\bKEFU_[A-Z0-9_]+\b/g)) used.add(m[0]);

  it('documents every KEFU_* variable the server reads in its table', () => {
    const missing = [...used].filter((v) => !documented.has(v));
    expect(missing, 'in server/src but not a row of docs/deploying.md').toEqual([]);
  });
  it('documents no variable the server does not read', () => {
    const stale = [...documented].filter((v) => !used.has(v));
    expect(stale, 'a row of docs/deploying.md the server never reads').toEqual([]);
  });
});
