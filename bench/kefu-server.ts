import type { FastifyInstance } from 'fastify';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { buildApp } from '../server/src/app';
import { loadConfig } from '../server/src/config';
import { listenKefu } from '../server/src/http/listen';
import { createWorkspace } from '../server/src/modules/admin/workspace-service';
import { serve } from './ipc';
import { rssOf } from './lib';

/*
 * Kefu as the benchmarks run it: its own process, configured from KEFU_* like `kefu start`,
 * built with `buildApp` and listening on a free port. Over IPC it also reports what only it can
 * see: its event-loop delay (G7) and its memory after a full GC (G6, run with --expose-gc).
 */
let app: FastifyInstance | undefined;
let url = '';
let loop: ReturnType<typeof monitorEventLoopDelay> | undefined;

const ms = (ns: number) => ns / 1e6;

serve({
  async listen() {
    const config = loadConfig();
    // Logging as in production (level from KEFU_LOG_LEVEL, default info), to a file.
    app = await buildApp(config, { logFile: path.join(config.dataDir, 'kefu.log') });
    url = await listenKefu(app, { port: 0, host: '127.0.0.1' });
    return { url, pid: process.pid };
  },
  async createWorkspace(a: { name: string; login: string; password: string }) {
    return createWorkspace(app!.kefu.ctx, a);
  },
  loopStart() {
    loop?.disable();
    loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
  },
  loopStop() {
    if (!loop) throw new Error('loopStart was not called');
    loop.disable();
    // The histogram counts how late each 5 ms timer fired; the resolution itself is not delay.
    const late = (ns: number) => Math.max(0, ms(ns) - 5);
    return {
      p50: late(loop.percentile(50)),
      p99: late(loop.percentile(99)),
      max: late(loop.max),
      count: loop.count,
    };
  },
  memory() {
    (globalThis as { gc?: () => void }).gc?.();
    return { ...process.memoryUsage(), rss: rssOf(process.pid) };
  },
  async close() {
    await app?.close();
  },
});
