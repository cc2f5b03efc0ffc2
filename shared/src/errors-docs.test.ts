import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from './errors';

describe('error codes and docs/api.md', () => {
  const doc = readFileSync(path.resolve(import.meta.dirname, '../../docs/api.md'), 'utf8');
  it('documents every registered code with its HTTP status', () => {
    for (const [code, def] of Object.entries(ERROR_CODES)) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
      expect(row, `docs/api.md has no row for ${code}`).toBeDefined();
      expect(row).toContain(`| ${def.status} |`);
    }
  });
  it('documents no code that does not exist', () => {
    const documented = [...doc.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    for (const code of documented) expect(Object.keys(ERROR_CODES)).toContain(code);
  });
});
