import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startWorker } from './ipc';
import { DIALECT, detail, envInt, fmt, goalLine, median, msgIdOf, sleep } from './lib';
import type { RunResult } from './loadgen-http';
import { startBenchStack, type BenchStack } from './stack';

/*
 * G1 push-ingest capacity and G2 overload. Pushes are real WeChat pushes (safe mode, XML,
 * AES-encrypted, signed), each from a new customer with its own MsgId, built in the generator
 * before the clock starts.
 */
const RUN = 1;
const ROUNDS = envInt('KEFU_BENCH_ROUNDS', 3);
/** Pushes in flight when measuring capacity: enough that the server, not the client, is the limit. */
const CONCURRENCY = 32;
const TIMEOUT_MS = 5000;
const KEFU_ROUND_MS = 5000;
const RAW_ROUND_MS = 3000;
const OVERLOAD_S = 10;

let first = 1;

async function closedRound(
  s: BenchStack,
  key: string,
  count: number,
  durationMs: number,
  target?: string,
): Promise<RunResult & { perSecond: number }> {
  await s.gen.call('pushes', { key, app: s.app, first, count, run: RUN, customers: 0, target });
  first += count;
  const r = await s.gen.call<RunResult & { perSecond: number }>('closed', {
    key,
    concurrency: CONCURRENCY,
    timeoutMs: TIMEOUT_MS,
    durationMs,
  });
  await s.gen.call('drop', { key });
  return r;
}

/** Open loop at `rate` against the bare node:http server: proves the generator keeps up. */
export async function checkGenerator(s: BenchStack, rawUrl: string, rate: number, seconds = 3) {
  const key = 'check';
  const count = Math.ceil(rate * seconds);
  await s.gen.call('pushes', {
    key,
    app: s.app,
    first,
    count,
    run: RUN,
    customers: 0,
    target: `${rawUrl}/wechat/raw`,
  });
  first += count;
  const r = await s.gen.call<RunResult>('open', { key, rate, timeoutMs: TIMEOUT_MS });
  await s.gen.call('drop', { key });
  const ok = r.ok === count && r.latency.p99 < 50 && r.maxSendLagMs < 50;
  detail(
    `generator check: ${fmt(rate)}/s open loop for ${seconds} s against bare node:http: ` +
      `${r.ok}/${count} answered, p99 ${fmt(r.latency.p99)} ms, max send lag ${fmt(r.maxSendLagMs)} ms: ${ok ? 'ok' : 'NOT SUSTAINED (figures below are suspect)'}`,
  );
  return ok;
}

/** G1 (capacity, vs bare http and batched SQLite) and G2 (3× capacity for 10 s). */
export async function benchIngest(want: { g1: boolean; g2: boolean }): Promise<string[]> {
  const s = await startBenchStack({ dialect: DIALECT });
  const raw = await startWorker('raw-server.ts');
  const rawSql = await startWorker('raw-sqlite.ts');
  const sqlDir = mkdtempSync(path.join(tmpdir(), 'kefu-bench-rawsql-'));
  const lines: string[] = [];
  try {
    const { url: rawUrl } = await raw.call<{ url: string }>('listen');
    const rawTarget = `${rawUrl}/wechat/raw`;
    // Warm-up: JIT, connection pools, SQLite pages.
    await closedRound(s, 'warm-raw', 3000, 1000, rawTarget);
    await closedRound(s, 'warm', 400, 2000);
    await rawSql.call('batchedInsert', { dir: sqlDir, pushes: 2000, batch: 100 });

    const kefu: number[] = [];
    const http: number[] = [];
    const sql: number[] = [];
    let worst = { p99: 0, errors: 0 };
    const rounds = want.g1 ? ROUNDS : 1;
    for (let round = 0; round < rounds; round++) {
      if (want.g1) {
        http.push((await closedRound(s, 'raw', 40_000, RAW_ROUND_MS, rawTarget)).perSecond);
        sql.push(
          await rawSql.call<number>('batchedInsert', { dir: sqlDir, pushes: 20_000, batch: 100 }),
        );
      }
      const k = await closedRound(s, 'kefu', 8000, KEFU_ROUND_MS);
      kefu.push(k.perSecond);
      const errors = k.offered - k.ok;
      worst = { p99: Math.max(worst.p99, k.latency.p99), errors: worst.errors + errors };
    }
    const capacity = median(kefu);
    if (want.g1) {
      const base = Math.min(median(http), median(sql));
      detail(
        `${rounds} interleaved rounds, ${CONCURRENCY} in flight, each push sent once (5 s timeout), ${DIALECT}; ` +
          `kefu ${kefu.map(fmt).join('/')} msg/s (worst p99 ${fmt(worst.p99)} ms, ${worst.errors} not acknowledged); ` +
          `bare node:http ${http.map(fmt).join('/')}; batched SQLite inserts ${sql.map(fmt).join('/')}`,
      );
      const ratio = capacity / base;
      lines.push(
        goalLine({
          name: 'G1 push-ingest',
          value: `${fmt(capacity)} msg/s`,
          ratio,
          baseline: `${fmt(base)} msg/s`,
          goal: '≥0.2',
          pass: ratio >= 0.2 && worst.errors === 0 && worst.p99 < 3000,
        }),
      );
      console.log(lines.at(-1));
    }
    if (want.g2) lines.push(await overload(s, rawUrl, capacity));
    return lines;
  } finally {
    await raw.kill();
    await rawSql.kill();
    rmSync(sqlDir, { recursive: true, force: true });
    await s.close();
  }
}

/** G2: 3× capacity, open loop, for 10 s; what was held, refused fast, or committed too late. */
async function overload(s: BenchStack, rawUrl: string, capacity: number): Promise<string> {
  const rate = Math.max(10, Math.round(capacity * 3));
  await checkGenerator(s, rawUrl, rate);
  const count = rate * OVERLOAD_S;
  const from = first;
  await s.gen.call('pushes', { key: 'over', app: s.app, first, count, run: RUN, customers: 0 });
  first += count;
  const r = await s.gen.call<RunResult>('open', { key: 'over', rate, timeoutMs: TIMEOUT_MS });
  // Whatever Kefu still commits after the clients gave up lands within seconds: wait until the
  // stored count stops moving.
  let stored = await s.storedMsgIds();
  for (let still = 0, t = 0; still < 3 && t < 60; t++) {
    await sleep(1000);
    const again = await s.storedMsgIds();
    still = again.size === stored.size ? still + 1 : 0;
    stored = again;
  }
  let lateCommits = 0;
  let refusedButStored = 0;
  let lost = 0;
  for (let i = 0; i < count; i++) {
    const has = stored.has(msgIdOf(RUN, from + i));
    if (r.fate[i] === -1 && has) lateCommits++;
    if (r.fate[i] === 0 && has) refusedButStored++;
    if (r.fate[i] === 1 && !has) lost++;
  }
  const fast = r.statuses['503'] ?? 0;
  detail(
    `offered ${rate}/s (3 × ${fmt(capacity)}) for ${OVERLOAD_S} s, open loop, 5 s client timeout, no retries, ${DIALECT}: ` +
      `${r.ok} success, answers ${JSON.stringify(r.statuses)}, p50 ${fmt(r.latency.p50)} ms, p99 ${fmt(r.latency.p99)} ms, ` +
      `max ${fmt(r.latency.max)} ms, held by answer ${JSON.stringify(r.heldBy)}, generator's worst send lag ${fmt(r.maxSendLagMs)} ms; ` +
      `stored but refused ${refusedButStored}; acknowledged but not stored ${lost}`,
  );
  const line = goalLine({
    name: 'G2 overload',
    value: `${r.heldOver4s} of ${count} held > 4 s, p99 ${fmt(r.latency.p99)} ms, ${fast} fast 503s, ${lateCommits} committed after give-up`,
    ratio: rate / capacity,
    baseline: `capacity ${fmt(capacity)} msg/s`,
    goal: 'none held > 4 s, 0 committed after give-up',
    pass: r.heldOver4s === 0 && lateCommits === 0 && lost === 0,
  });
  console.log(line);
  return line;
}
