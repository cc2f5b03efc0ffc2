#!/usr/bin/env node
// The `kefu` command. A deployment runs the compiled server (server/dist, from `npm run build`)
// on plain node with only runtime dependencies; a development checkout without a build runs
// the TypeScript entry through tsx's loader instead.
import { existsSync } from 'node:fs';

const built = new URL('../dist/main.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    console.error('Kefu is not built: run `npm run build` first (server/dist is missing).');
    process.exit(1);
  }
  register();
  await import('../src/main.ts');
}
