import { startWorker, type Worker } from './ipc';
import { checkGenerator } from './g-ingest';
import { DIALECT, detail, envInt, fmt, goalLine, median, sleep, type Summary } from './lib';
import type { RunResult } from './loadgen-http';
import { startBenchStack, type BenchStack } from './stack';

/*
 * G3 push → agent frame latency and G4 fan-out throughput, with 500 signed-in console sockets
 * (100 agents bound to the channel, 5 tabs each; the design allows 100 agents per channel). The
 * raw relay gets the same pushes and sends the same number of frames, of the same sizes, that
 * Kefu was seen sending per push.
 */
const AGENTS = 100;
const SOCKETS = envInt('KEFU_BENCH_FANOUT_SOCKETS', 500);
/** The figure was taken at 20 push/s; `KEFU_BENCH_G3_RATE` measures at another rate. */
const RATE = envInt('KEFU_BENCH_G3_RATE', 20);
const LATENCY_ROUND_S = 5;
const FANOUT_PUSHES = 100;
const FANOUT_CONCURRENCY = 4;
const CUSTOMERS = 50;
const ROUNDS = envInt('KEFU_BENCH_ROUNDS', 3);
const RUN = 3;

interface Track {
  latency: Summary;
  marked: number;
  sizes: number[];
  spanMs: number;
}

let first = 1;

/** Waits until `expected` marker frames arrived, or nothing new came for 5 s. */
async function settle(gen: Worker, expected: number): Promise<Track> {
  let last = await gen.call<Track>('trackStats');
  for (let idle = 0; last.marked < expected && idle < 25;) {
    await sleep(200);
    const t = await gen.call<Track>('trackStats');
    idle = t.marked === last.marked ? idle + 1 : 0;
    last = t;
  }
  return last;
}

async function pushes(s: BenchStack, key: string, count: number, target?: string) {
  await s.gen.call('pushes', {
    key,
    app: s.app,
    first,
    count,
    run: RUN,
    customers: CUSTOMERS,
    target,
    relay: true,
  });
  first += count;
}

/** One latency round: RATE pushes/s, open loop, every frame timed from its push's due time. */
async function latencyRound(s: BenchStack, frames: number, target?: string) {
  const count = RATE * LATENCY_ROUND_S;
  await pushes(s, 'lat', count, target);
  await s.gen.call('trackReset');
  const r = await s.gen.call<RunResult>('open', { key: 'lat', rate: RATE, timeoutMs: 5000 });
  const t = await settle(s.gen, r.ok * frames * SOCKETS);
  return { ...t, acked: r.ok, expected: r.ok * frames * SOCKETS };
}

/** One throughput round: FANOUT_PUSHES pushes, a few in flight; deliveries per second. */
async function fanoutRound(s: BenchStack, frames: number, target?: string) {
  await pushes(s, 'fan', FANOUT_PUSHES, target);
  await s.gen.call('trackReset');
  const r = await s.gen.call<RunResult>('closed', {
    key: 'fan',
    concurrency: FANOUT_CONCURRENCY,
    timeoutMs: 5000,
    durationMs: 60_000,
  });
  const t = await settle(s.gen, r.ok * frames * SOCKETS);
  return {
    perSecond: (t.marked / t.spanMs) * 1000,
    marked: t.marked,
    expected: r.ok * frames * SOCKETS,
  };
}

/** G3 and G4: Kefu and the raw relay in alternate rounds, medians of the rounds. */
export async function benchFanout(want: { g3: boolean; g4: boolean }): Promise<string[]> {
  const s = await startBenchStack({ dialect: DIALECT });
  const raw = await startWorker('raw-server.ts');
  const lines: string[] = [];
  try {
    const { url: rawUrl } = await raw.call<{ url: string }>('listen');
    const rawTarget = `${rawUrl}/wechat/raw`;
    const agents = await s.agents('fan', AGENTS);
    const wsUrl = `${s.kefuUrl.replace(/^http/, 'ws')}/api/ws`;
    const tokens = agents.map((a) => a.token);
    await s.gen.call('socketsOpen', { group: 'kefu', url: wsUrl, tokens, count: SOCKETS });
    await s.gen.call('socketsOpen', {
      group: 'raw',
      url: `${rawUrl.replace(/^http/, 'ws')}/ws`,
      tokens: [''],
      count: SOCKETS,
    });

    // Warm-up: the first pushes create the customers; after that each push is a message to a
    // queued conversation. Count the frames such a push brings to each socket, and their sizes.
    await pushes(s, 'warm', CUSTOMERS);
    await s.gen.call('open', { key: 'warm', rate: RATE, timeoutMs: 5000 });
    await settle(s.gen, Infinity);
    await pushes(s, 'warm2', CUSTOMERS);
    await s.gen.call('trackReset');
    const w = await s.gen.call<RunResult>('open', { key: 'warm2', rate: RATE, timeoutMs: 5000 });
    const seen = await settle(s.gen, Infinity);
    const frames = Math.max(1, Math.round(seen.marked / (w.ok * SOCKETS)));
    const sizes = seen.sizes.slice(0, frames);
    await raw.call('configureRelay', sizes);
    detail(
      `${SOCKETS} sockets (${AGENTS} agents × ${SOCKETS / AGENTS}), ${DIALECT}; Kefu sends ${frames} frames per push ` +
        `to each socket (${sizes.join(' + ')} bytes); the raw relay sends the same`,
    );

    if (want.g3) {
      await checkGenerator(s, rawUrl, RATE);
      const kefu: (Track & { expected: number })[] = [];
      const base: Track[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        base.push(await latencyRound(s, frames, rawTarget));
        kefu.push(await latencyRound(s, frames));
      }
      const p99 = median(kefu.map((k) => k.latency.p99));
      const rawP99 = median(base.map((k) => k.latency.p99));
      const missing = kefu.reduce((n, k) => n + Math.max(0, k.expected - k.marked), 0);
      detail(
        `${RATE} pushes/s open loop for ${LATENCY_ROUND_S} s × ${ROUNDS} rounds; p99 per round kefu ${kefu.map((k) => fmt(k.latency.p99)).join('/')} ms ` +
          `(p50 ${fmt(median(kefu.map((k) => k.latency.p50)))}, max ${fmt(Math.max(...kefu.map((k) => k.latency.max)))}), ` +
          `raw ${base.map((k) => fmt(k.latency.p99)).join('/')} ms; frames missing at Kefu's sockets ${missing}`,
      );
      lines.push(
        goalLine({
          name: 'G3 push-latency',
          value: `p99 ${fmt(p99)} ms at ${RATE} push/s`,
          ratio: p99 / rawP99,
          baseline: `${fmt(rawP99)} ms`,
          goal: '≤25 ms',
          pass: p99 <= 25 && missing === 0,
        }),
      );
      console.log(lines.at(-1));
    }
    if (want.g4) {
      const kefu: number[] = [];
      const base: number[] = [];
      let missing = 0;
      for (let r = 0; r < ROUNDS; r++) {
        base.push((await fanoutRound(s, frames, rawTarget)).perSecond);
        const k = await fanoutRound(s, frames);
        kefu.push(k.perSecond);
        missing += Math.max(0, k.expected - k.marked);
      }
      const ratio = median(kefu) / median(base);
      detail(
        `${FANOUT_PUSHES} pushes per round, ${FANOUT_CONCURRENCY} in flight, × ${frames} frames × ${SOCKETS} sockets; ` +
          `kefu ${kefu.map(fmt).join('/')} raw ${base.map(fmt).join('/')} deliveries/s; frames missing at Kefu's sockets ${missing}`,
      );
      lines.push(
        goalLine({
          name: 'G4 fanout',
          value: `${fmt(median(kefu))} deliveries/s`,
          ratio,
          baseline: `${fmt(median(base))} deliveries/s`,
          goal: '≥0.5',
          pass: ratio >= 0.5 && missing === 0,
        }),
      );
      console.log(lines.at(-1));
    }
    return lines;
  } finally {
    await s.gen.call('socketsClose', { group: 'kefu' }).catch(() => undefined);
    await s.gen.call('socketsClose', { group: 'raw' }).catch(() => undefined);
    await raw.kill();
    await s.close();
  }
}
