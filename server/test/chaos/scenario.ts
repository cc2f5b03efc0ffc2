import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { openProbe } from '../db-probe';
import { ChaosAgent } from './agents';
import { check, formatVerdicts, readStored, type Verdict } from './checker';
import { generatePushes } from './generator';
import { newHistory, seededRandom, sleep, type History } from './history';
import { randomSchedule, runNemesis, shortSchedule } from './nemesis';
import { startWorld, type NodeSlot } from './world';

export interface ChaosProfile {
  name: string;
  seed: number;
  nodes: number;
  agents: number;
  customers: number;
  pushes: number;
  durationMs: number;
  concurrentDupRate: number;
  burstRate: number;
  closeRate: number;
  /** `short`: the fixed schedule; a number: a random fault every that many ms on average. */
  faultEveryMs: 'short' | number;
  /** How long to wait, after the last fault healed, for the outbox to drain. */
  settleMs: number;
  /** Where to write each node's output (warnings and errors) at the end; none by default. */
  logDir?: string;
}

/** In `npm test`: a couple of hundred pushes, each fault kind once. */
export const SHORT: ChaosProfile = {
  name: 'short',
  seed: 7,
  nodes: 2,
  agents: 3,
  customers: 40,
  pushes: 200,
  durationMs: 40_000,
  concurrentDupRate: 0.1,
  burstRate: 0.1,
  closeRate: 0.15,
  faultEveryMs: 'short',
  settleMs: 150_000,
};

/** `npm run chaos`: minutes, thousands of pushes, a random fault every few seconds. */
export const LONG: ChaosProfile = {
  name: 'long',
  seed: 1,
  nodes: 3,
  agents: 6,
  customers: 150,
  pushes: 3000,
  durationMs: 300_000,
  concurrentDupRate: 0.1,
  burstRate: 0.1,
  closeRate: 0.15,
  faultEveryMs: 8000,
  settleMs: 240_000,
};

export interface ChaosResult {
  ok: boolean;
  verdicts: Verdict[];
  figures: Record<string, string | number>;
  /** Figures and verdicts as printed. */
  report: string;
  history: History;
}

const count = <T>(items: T[], key: (t: T) => string) => {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return Object.entries(out)
    .sort()
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
};

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs one chaos scenario end to end and judges it. `log` gets progress lines. */
export async function runChaos(
  profile: ChaosProfile,
  log: (line: string) => void = () => undefined,
): Promise<ChaosResult> {
  const rng = seededRandom(profile.seed);
  // The proxies live in this process: a stalled loop here would slow every node's traffic.
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  const world = await startWorld({ nodes: profile.nodes, agents: profile.agents });
  const probe = await openProbe(world.config);
  const { history, clock, restart } = newHistory();
  try {
    world.watch((f) => history.faults.push({ at: clock(), ...f }));
    const agents = world.agents.map(
      (a, i) =>
        new ChaosAgent(world, history, a.name, a, seededRandom(profile.seed * 31 + i + 1), clock, {
          closeRate: profile.closeRate,
        }),
    );
    for (const a of agents) await a.begin();
    // Time 0 is when the load starts: the schedule's times do not include the setup.
    restart();
    const working = agents.map((a) => a.work());
    log(
      `chaos ${profile.name}: seed ${profile.seed}, ${profile.nodes} nodes, ${profile.customers} customers, ${profile.pushes} pushes over ${profile.durationMs / 1000} s`,
    );

    const steps =
      profile.faultEveryMs === 'short'
        ? shortSchedule(profile.durationMs)
        : randomSchedule(
            profile.durationMs,
            profile.faultEveryMs,
            profile.nodes,
            profile.agents,
            rng,
          );
    await Promise.all([
      generatePushes(world, history, profile, rng, clock),
      runNemesis(world, agents, steps, history, clock),
    ]);
    const loadEnd = clock();
    log(
      `chaos ${profile.name}: load done at ${(loadEnd / 1000).toFixed(1)} s; healing and settling`,
    );

    // Heal everything, let agents answer the last messages, then stop them and let the outbox drain.
    for (const p of Object.values(world.proxies)) await p.pass();
    for (const [i, n] of world.nodes.entries()) if (!n.proc) await world.start(i);
    await sleep(5000);
    for (const a of agents) a.stop();
    await Promise.all(working);
    const settled = await settle(probe, world.channel.id, profile.settleMs);
    const settleMs = clock() - loadEnd;

    const crashes = world.nodes.flatMap((n) =>
      n.crashes.map((output) => ({ node: n.name, output })),
    );
    const logs = world.nodes
      .flatMap((n) => [...n.pastOutputs, n.proc?.output() ?? ''])
      .flatMap((o) => o.split('\n'));
    const stored = await readStored(
      probe,
      world.channel.id,
      world.sim.sends(world.channel.appId),
      crashes,
      logs,
    );
    const verdicts = check(history, stored);
    const acked = history.pushes.filter((p) => p.ackedAt !== undefined);
    const tries = history.pushes.flatMap((p) => p.tries);
    const figures: Record<string, string | number> = {
      'pushes composed': history.pushes.length,
      'pushes acknowledged': acked.length,
      'pushes given up (3 tries, no success)': history.pushes.length - acked.length,
      'push tries': tries.length,
      'retries (tries after the first)': tries.length - history.pushes.length,
      'tries sent concurrently with a duplicate': tries.filter((t) => t.concurrent).length,
      'try outcomes': count(tries, (t) => (t.acked ? 'success' : (t.error ?? String(t.status)))),
      'ack latency p50 / p99 / max (ms)': `${percentile(
        acked.map((p) => p.ackedAt! - p.startedAt),
        50,
      )} / ${percentile(
        acked.map((p) => p.ackedAt! - p.startedAt),
        99,
      )} / ${percentile(
        acked.map((p) => p.ackedAt! - p.startedAt),
        100,
      )}`,
      'replies posted': history.replies.length,
      'reply outcomes': count(history.replies, (r) =>
        r.outcome === 'refused' ? `refused ${r.tries.at(-1)?.code ?? ''}` : r.outcome,
      ),
      'emulator custom/send accepted': stored.sends.length,
      'stored reply deliveries': count(
        stored.messages.filter((m) => m.client_id),
        (m) => m.delivery ?? 'none',
      ),
      conversations: `${stored.conversations.length} (${stored.conversations.filter((c) => c.state === 'closed').length} closed; ${history.closes.filter((c) => c.ok).length} closes by agents)`,
      'faults injected': count(
        history.faults.filter((f) => !['heal', 'return', 'restart'].includes(f.kind)),
        (f) => `${f.kind} ${f.target}`,
      ),
      'node boots that failed and were retried':
        world.nodes
          .flatMap((n) =>
            n.startFailures.map((f) => `${n.name}: ${f.split('\n').slice(0, 2).join(' ')}`),
          )
          .join('; ') || 0,
      'agent sockets opened / resumed / resync': `${history.sockets.opened} / ${history.sockets.resumed} / ${history.sockets.resync}`,
      'runner event loop delay p99 / max (ms)': `${Math.round(loop.percentile(99) / 1e6)} / ${Math.round(loop.max / 1e6)}`,
      'wall time load / settle (s)': `${(loadEnd / 1000).toFixed(1)} / ${(settleMs / 1000).toFixed(1)}${settled ? '' : ' (did not settle)'}`,
    };
    const ok = verdicts.every((v) => v.failures.length === 0);
    const report = [
      `chaos ${profile.name} (seed ${profile.seed}, ${profile.nodes} nodes, ${profile.agents} agents, ${profile.customers} customers): ${ok ? 'PASS' : 'FAIL'}`,
      ...Object.entries(figures).map(([k, v]) => `  ${k}: ${v}`),
      formatVerdicts(verdicts),
    ].join('\n');
    return { ok, verdicts, figures, report, history };
  } finally {
    loop.disable();
    if (profile.logDir) saveNodeLogs(world.nodes, profile.logDir);
    await probe.close();
    await world.close();
  }
}

/** Writes the output tail of every node incarnation still up, and of every crash. */
function saveNodeLogs(nodes: NodeSlot[], dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const n of nodes) {
    const parts = [
      ...n.crashes.map((c, i) => `--- crash ${i + 1}\n${c}`),
      `--- last\n${n.proc?.output() ?? ''}`,
    ];
    writeFileSync(path.join(dir, `${n.name}.log`), parts.join('\n'));
  }
}

/**
 * Quiescence: no send job left and no reply pending, the same on two looks a second apart.
 * False when `timeoutMs` passed first (the checker then reports what is still pending).
 */
async function settle(
  probe: Awaited<ReturnType<typeof openProbe>>,
  channelId: string,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let previous = '';
  while (Date.now() < deadline) {
    const [row] = await probe.all<Record<string, unknown>>(
      `select (select count(*) from outbox where channel_id = ? and job = 'send') as jobs,
              (select count(*) from messages where channel_id = ? and delivery = 'pending') as pending,
              (select count(*) from messages where channel_id = ?) as messages`,
      [channelId, channelId, channelId],
    );
    const now = JSON.stringify(row);
    if (Number(row!.jobs) === 0 && Number(row!.pending) === 0 && now === previous) return true;
    previous = now;
    await sleep(1000);
  }
  return false;
}
