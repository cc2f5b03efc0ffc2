import { execFileSync } from 'node:child_process';
import { startWorker, type Worker } from './ipc';
import { DIALECT, detail, envInt, fmt, goalLine, sleep } from './lib';
import type { RunResult } from './loadgen-http';
import { startBenchStack, type BenchStack } from './stack';

/*
 * G6 memory per idle socket and G7 the reconnect storm. Sockets are console sockets of agents
 * bound to the channel (signed in, hello + resume), opened by the load generator process.
 */
const IDLE = envInt('KEFU_BENCH_IDLE_SOCKETS', 10_000);
const STORM = envInt('KEFU_BENCH_STORM_SOCKETS', 5000);
const AGENTS = 100;
const LIVE_RATE = 2;

interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
}

/** The open-files limit the children inherit (each side of a socket holds one descriptor). */
function fdLimit(): number {
  try {
    return Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim()) || 1024;
  } catch {
    return 1024;
  }
}

async function sockets(s: BenchStack, prefix: string) {
  const agents = await s.agents(prefix, AGENTS);
  return {
    url: `${s.kefuUrl.replace(/^http/, 'ws')}/api/ws`,
    tokens: agents.map((a) => a.token),
  };
}

/**
 * RSS (and live heap + buffers, after a GC) added per socket by `count` idle sockets, opened as
 * groups `<tag>-a` (the first `keep`) and `<tag>-b`; group a stays open for the caller.
 */
async function perSocket(
  gen: Worker,
  server: Worker,
  c: { url: string; tokens: string[]; count: number; keep: number; tag: string },
) {
  const { url, tokens, count, keep, tag } = c;
  await gen.call('socketsOpen', { group: 'warm', url, tokens, count: 500, concurrency: 100 });
  await gen.call('socketsClose', { group: 'warm' });
  await sleep(1500);
  const before = await server.call<Memory>('memory');
  const start = Date.now();
  await gen.call('socketsOpen', { group: `${tag}-a`, url, tokens, count: keep, concurrency: 100 });
  await gen.call('socketsOpen', {
    group: `${tag}-b`,
    url,
    tokens,
    count: count - keep,
    concurrency: 100,
  });
  const openMs = Date.now() - start;
  await sleep(2000);
  const after = await server.call<Memory>('memory');
  await gen.call('socketsClose', { group: `${tag}-b` });
  return {
    rss: (after.rss - before.rss) / count,
    live: (after.heapUsed + after.external - before.heapUsed - before.external) / count,
    openMs,
  };
}

/**
 * G6 and G7 on one Kefu process (opening thousands of signed-in sockets is the slow part, so the
 * storm reuses G6's sockets). G6: IDLE idle sockets into Kefu vs into a raw ws server, RSS delta
 * per socket. G7: STORM sockets are cut and reconnect at once, resuming from their last seq,
 * while a second generator process keeps pushing at LIVE_RATE/s; Kefu reports its own event-loop
 * delay over the storm. G7's baseline is the same storm against the raw ws server.
 */
export async function benchSockets(want: { g6: boolean; g7: boolean }): Promise<string[]> {
  const limit = fdLimit();
  // The generator holds at most one server's sockets at a time (one descriptor each).
  const idle = want.g6 ? Math.min(IDLE, limit - 500) : STORM;
  const keep = Math.min(STORM, idle);
  if (idle < IDLE && want.g6)
    detail(`ulimit -n is ${limit}: measuring ${idle} sockets instead of ${IDLE}`);
  const s = await startBenchStack({ dialect: DIALECT, nodeArgs: ['--expose-gc'] });
  const raw = await startWorker('raw-server.ts', { nodeArgs: ['--expose-gc'] });
  const live = await startWorker('loadgen.ts');
  const lines: string[] = [];
  try {
    const { url: rawUrl } = await raw.call<{ url: string }>('listen');
    const rawWs = `${rawUrl.replace(/^http/, 'ws')}/ws`;
    const k = await sockets(s, 'sock');
    const base = await perSocket(s.gen, raw, {
      url: rawWs,
      tokens: [''],
      count: idle,
      keep,
      tag: 'raw',
    });
    const rawStorm = await s.gen.call<{ ms: number; failed: number }>('storm', { group: 'raw-a' });
    await s.gen.call('socketsClose', { group: 'raw-a' });
    const kefu = await perSocket(s.gen, s.kefu, {
      url: k.url,
      tokens: k.tokens,
      count: idle,
      keep,
      tag: 'kefu',
    });
    const kb = (n: number) => fmt(n / 1024);
    if (want.g6) {
      detail(
        `${idle} idle sockets (${AGENTS} agents), ${DIALECT}, ulimit -n ${limit}; per socket: RSS kefu ${kb(kefu.rss)} KB raw ${kb(base.rss)} KB; ` +
          `live heap + buffers after GC kefu ${kb(kefu.live)} KB raw ${kb(base.live)} KB; opened in kefu ${fmt(kefu.openMs / 1000)} s raw ${fmt(base.openMs / 1000)} s`,
      );
      const ratio = kefu.rss / base.rss;
      lines.push(
        goalLine({
          name: 'G6 idle-memory',
          value: `${kb(kefu.rss)} KB RSS/socket at ${idle} sockets`,
          ratio,
          baseline: `${kb(base.rss)} KB`,
          goal: '≤3',
          pass: ratio <= 3,
        }),
      );
      console.log(lines.at(-1));
    }
    if (want.g7) lines.push(await storm(s, live, keep, rawStorm.ms));
    return lines;
  } finally {
    await s.gen.call('socketsClose', { group: 'kefu-a' }).catch(() => undefined);
    await live.kill();
    await raw.kill();
    await s.close();
  }
}

async function storm(s: BenchStack, live: Worker, count: number, rawMs: number): Promise<string> {
  const seconds = 30;
  await live.call('pushes', {
    key: 'live',
    app: s.app,
    first: 1,
    count: LIVE_RATE * seconds,
    run: 7,
    customers: 20,
  });
  const pushing = live.call<RunResult>('open', { key: 'live', rate: LIVE_RATE, timeoutMs: 60_000 });
  await sleep(3000);
  await s.kefu.call('loopStart');
  await sleep(3000);
  const quiet = await s.kefu.call<{ p99: number; max: number }>('loopStop');
  await s.kefu.call('loopStart');
  const st = await s.gen.call<{ ms: number; failed: number; reconnected: number }>('storm', {
    group: 'kefu-a',
  });
  await sleep(2000);
  const loop = await s.kefu.call<{ p50: number; p99: number; max: number }>('loopStop');
  const pushes = await pushing;
  detail(
    `${count} sockets (${AGENTS} agents), ${DIALECT}; live pushes ${LIVE_RATE}/s open loop over ${seconds} s from a second generator: ` +
      `${pushes.ok}/${pushes.offered} acknowledged, p99 ${fmt(pushes.latency.p99)} ms, max ${fmt(pushes.latency.max)} ms; ` +
      `storm: ${st.reconnected} back in ${fmt(st.ms)} ms (${st.failed} failed), raw ws ${fmt(rawMs)} ms; ` +
      `loop delay before the storm p99 ${fmt(quiet.p99)} ms max ${fmt(quiet.max)} ms, during p50 ${fmt(loop.p50)} ms`,
  );
  const line = goalLine({
    name: 'G7 reconnect-storm',
    value: `loop delay p99 ${fmt(loop.p99)} ms, max ${fmt(loop.max)} ms; push latency max ${fmt(pushes.latency.max)} ms; all back in ${fmt(st.ms)} ms`,
    ratio: st.ms / rawMs,
    baseline: `raw ws storm ${fmt(rawMs)} ms`,
    goal: 'loop p99 ≤200 ms',
    pass: loop.p99 <= 200 && st.failed === 0 && pushes.ok === pushes.offered,
  });
  console.log(line);
  return line;
}
