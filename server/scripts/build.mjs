// Compiles the server (and the shared package it uses) to plain JavaScript in server/dist, so
// `kefu start` runs on node alone with only runtime dependencies installed. Every package in
// server's `dependencies` stays external (installed by `npm ci --omit=dev`); @kefu/shared is
// bundled in; the demo and the emulator are a separate chunk loaded only by `kefu demo`.
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const server = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(server, 'package.json'), 'utf8'));
const bundled = new Set(['@kefu/shared']);
const external = [
  ...Object.keys(pkg.dependencies ?? {}),
  ...Object.keys(pkg.devDependencies ?? {}),
].filter((name) => !bundled.has(name));

rmSync(join(server, 'dist'), { recursive: true, force: true });
const result = await build({
  entryPoints: [join(server, 'src/main.ts')],
  outdir: join(server, 'dist'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  sourcemap: true,
  external,
  metafile: true,
  logLevel: 'warning',
  // Every chunk sits directly in server/dist, two levels below the repository as src is:
  // paths such as app.ts's `../../web/dist` resolve the same from either.
  chunkNames: '[name]-[hash]',
});
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(
  `server/dist: ${(bytes / 1024).toFixed(0)} KB in ${Object.keys(result.metafile.outputs).length} files`,
);
