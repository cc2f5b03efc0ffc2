import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildApp } from '../server/src/app';
import { createWorkspace } from '../server/src/modules/admin/workspace-service';
import { ApiClient } from '../server/test/api-client';
import { testConfig } from '../server/test/harness';
import {
  kefuEnv,
  startKefu,
  startScript,
  type KefuProcess,
  type ScriptOptions,
} from '../server/test/kefu-process';
import { DIALECT, now, openConsoleSocket, pool, ratioLine, sleep } from './lib';

const SOCKETS = 2000;
const WARMUP = 200;
const CONCURRENCY = 50;
const SETTLE_MS = 1000;

/** Both servers run with the probe that reports memory after a full GC on SIGUSR2. */
const PROBED: ScriptOptions = {
  nodeArgs: [
    '--expose-gc',
    '--import',
    pathToFileURL(path.join(import.meta.dirname, 'memory-probe.ts')).href,
  ],
};

interface Memory {
  heapUsed: number;
  external: number;
}

/** Asks the server for its memory after a full GC (see memory-probe.ts). */
async function memoryOf(server: KefuProcess): Promise<Memory> {
  const count = () => server.output().split('MEMORY ').length;
  const before = count();
  process.kill(server.pid, 'SIGUSR2');
  const deadline = now() + 10_000;
  while (count() === before) {
    if (now() > deadline) throw new Error('the server did not report its memory');
    await sleep(10);
  }
  const lines = server.output().split('\n');
  const last = lines.filter((l) => l.startsWith('MEMORY ')).pop()!;
  return JSON.parse(last.slice('MEMORY '.length)) as Memory;
}

/** Live memory (JS heap and buffers, after GC) added per idle socket, after a warm-up. */
async function perSocket(server: KefuProcess, url: string, token?: string) {
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const warm = await pool(range(WARMUP), CONCURRENCY, () => openConsoleSocket(url, token));
  for (const ws of warm) ws.close();
  await sleep(SETTLE_MS);
  const before = await memoryOf(server);
  const sockets = await pool(range(SOCKETS), CONCURRENCY, () => openConsoleSocket(url, token));
  await sleep(SETTLE_MS);
  const after = await memoryOf(server);
  for (const ws of sockets) ws.terminate();
  return {
    heap: (after.heapUsed - before.heapUsed) / SOCKETS,
    external: (after.external - before.external) / SOCKETS,
  };
}

/** A Kefu child on a fresh database with one workspace; returns it, the socket URL and a token. */
async function startKefuChild() {
  const { config, cleanup } = testConfig(DIALECT);
  const app = await buildApp(config, { workers: false, logger: false });
  await createWorkspace(app.kefu.ctx, {
    name: 'Bench shop',
    login: 'bench-owner',
    password: 'owner-pass-1',
  });
  await app.close();
  const child = await startKefu(kefuEnv(config), PROBED);
  const owner = await ApiClient.login(child.url, 'bench-owner', 'owner-pass-1');
  const url = `${child.url.replace(/^http/, 'ws')}/api/ws`;
  return { child, url, token: owner.token, cleanup };
}

/** (d) Memory per idle WebSocket: a `kefu start` process vs a bare `ws` server process. */
export async function benchWsMemory(): Promise<string[]> {
  const raw = await startScript(
    path.join(import.meta.dirname, 'raw-ws-server.ts'),
    [],
    process.env,
    /raw ws listening on (\S+)/,
    PROBED,
  );
  let base: { heap: number; external: number };
  try {
    base = await perSocket(raw, `${raw.url.replace(/^http/, 'ws')}/ws`);
  } finally {
    await raw.kill();
  }
  const kefu = await startKefuChild();
  try {
    const k = await perSocket(kefu.child, kefu.url, kefu.token);
    const kb = (n: number) => (n / 1024).toFixed(2);
    console.log(
      `  ${SOCKETS} idle sockets into each server process, ${DIALECT}; per socket: ` +
        `JS heap kefu ${kb(k.heap)} KB raw ${kb(base.heap)} KB, ` +
        `buffers kefu ${kb(k.external)} KB raw ${kb(base.external)} KB`,
    );
    const live = (m: { heap: number; external: number }) => (m.heap + m.external) / 1024;
    return [ratioLine('ws-memory', live(k), live(base), 'KB/conn')];
  } finally {
    await kefu.child.kill();
    await kefu.cleanup();
  }
}
