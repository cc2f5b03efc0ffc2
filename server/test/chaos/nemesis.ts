import type { ChaosAgent } from './agents';
import type { FaultKind, History } from './history';
import { sleep } from './history';
import type { ProxyName, World } from './world';

/** One scheduled fault: what, to whom, when (ms into the run) and for how long. */
export interface FaultStep {
  at: number;
  /**
   * `sever`: delay the proxy, then reset it while answers are held in it, so requests the
   * target already carried out lose their answer (WeChat accepted the send; PostgreSQL committed).
   */
  kind: 'kill' | 'reset' | 'delay' | 'drop' | 'blackhole' | 'vanish' | 'sever';
  /** Node index, proxy name or agent index. */
  target: number | ProxyName;
  /** How long the fault lasts before it heals (a killed node restarts). */
  forMs: number;
  /** For `delay` and `sever`: the added latency per chunk. */
  delayMs?: number;
}

const PROXIES: ProxyName[] = ['pg', 'redis', 'wechat'];

/**
 * The short profile's faults, spread over the run: each proxy reset once, one node SIGKILLed and
 * restarted, one agent's socket gone for seconds, and one short stall of each dependency.
 */
export function shortSchedule(durationMs: number): FaultStep[] {
  const at = (f: number) => Math.round(durationMs * f);
  return [
    // First, because a restarted node needs a while to boot on a loaded machine.
    { at: at(0.1), kind: 'kill', target: 0, forMs: 3000 },
    { at: at(0.2), kind: 'reset', target: 'pg', forMs: 0 },
    { at: at(0.3), kind: 'reset', target: 'redis', forMs: 0 },
    { at: at(0.4), kind: 'reset', target: 'wechat', forMs: 0 },
    { at: at(0.55), kind: 'vanish', target: 0, forMs: 4000 },
    { at: at(0.65), kind: 'delay', target: 'pg', forMs: 2000, delayMs: 200 },
    { at: at(0.7), kind: 'blackhole', target: 'wechat', forMs: 2500 },
    { at: at(0.8), kind: 'sever', target: 'wechat', forMs: 5000, delayMs: 1000 },
    { at: at(0.9), kind: 'sever', target: 'pg', forMs: 2000, delayMs: 500 },
  ];
}

/** Random faults from the whole menu, one every `everyMs` on average, over the run. */
export function randomSchedule(
  durationMs: number,
  everyMs: number,
  nodes: number,
  agents: number,
  rng: () => number,
): FaultStep[] {
  const steps: FaultStep[] = [];
  for (let t = everyMs / 2; t < durationMs - 5000; t += everyMs * (0.5 + rng())) {
    const r = rng();
    const proxy = PROXIES[Math.floor(rng() * PROXIES.length)]!;
    const forMs = 1000 + Math.floor(rng() * 5000);
    if (r < 0.2) steps.push({ at: t, kind: 'kill', target: Math.floor(rng() * nodes), forMs });
    else if (r < 0.45) steps.push({ at: t, kind: 'reset', target: proxy, forMs: 0 });
    else if (r < 0.6)
      steps.push({ at: t, kind: 'delay', target: proxy, forMs, delayMs: 50 + rng() * 400 });
    else if (r < 0.72) steps.push({ at: t, kind: 'drop', target: proxy, forMs });
    else if (r < 0.8) steps.push({ at: t, kind: 'blackhole', target: proxy, forMs });
    else if (r < 0.88)
      steps.push({ at: t, kind: 'sever', target: proxy, forMs, delayMs: 300 + rng() * 1000 });
    else steps.push({ at: t, kind: 'vanish', target: Math.floor(rng() * agents), forMs });
  }
  return steps;
}

/** Runs the schedule against the world; every fault and every healing is logged. */
export async function runNemesis(
  world: World,
  agents: ChaosAgent[],
  steps: FaultStep[],
  history: History,
  clock: () => number,
): Promise<void> {
  const log = (kind: FaultKind, target: string, detail?: string) =>
    history.faults.push({ at: clock(), kind, target, ...(detail ? { detail } : {}) });
  const running: Promise<void>[] = [];
  // One fault per node, agent or proxy at a time: a heal must not end another fault early.
  const busy = new Set<string>();
  for (const step of [...steps].sort((a, b) => a.at - b.at)) {
    await sleep(Math.max(0, step.at - clock()));
    const kind = step.kind === 'kill' ? 'node' : step.kind === 'vanish' ? 'agent' : 'proxy';
    const key = `${kind}:${String(step.target)}`;
    if (busy.has(key)) continue;
    busy.add(key);
    running.push(
      apply(world, agents, step, log).finally(() => {
        busy.delete(key);
      }),
    );
  }
  await Promise.all(running);
}

async function apply(
  world: World,
  agents: ChaosAgent[],
  step: FaultStep,
  log: (kind: FaultKind, target: string, detail?: string) => void,
): Promise<void> {
  if (step.kind === 'kill') {
    const i = step.target as number;
    const name = world.nodes[i]!.name;
    if (!world.nodes[i]!.proc) return;
    await world.kill(i);
    log('kill', name, 'SIGKILL');
    await sleep(step.forMs);
    await world.start(i);
    log('restart', name);
    return;
  }
  if (step.kind === 'vanish') {
    const agent = agents[step.target as number]!;
    log('vanish', agent.name, `${step.forMs} ms`);
    await agent.vanish(step.forMs);
    log('return', agent.name);
    return;
  }
  const name = step.target as ProxyName;
  const proxy = world.proxies[name];
  if (step.kind === 'reset') {
    log('reset', name, `${await proxy.resetAll()} connections`);
    return;
  }
  if (step.kind === 'sever') {
    const delayMs = Math.round(step.delayMs ?? 1000);
    await proxy.delay(delayMs);
    log('delay', name, `${delayMs} ms, then reset`);
    // Reset as soon as an answer is held (so one is surely lost), or at the end of the window.
    const until = Date.now() + step.forMs;
    while (Date.now() < until && (await proxy.heldAnswers()) === 0) await sleep(10);
    log('sever', name, `${await proxy.resetAll()} connections with answers in flight`);
    await proxy.pass();
    log('heal', name);
    return;
  }
  if (step.kind === 'delay') await proxy.delay(Math.round(step.delayMs ?? 100));
  else if (step.kind === 'drop') await proxy.drop();
  else await proxy.blackhole();
  log(step.kind, name, step.kind === 'delay' ? `${Math.round(step.delayMs ?? 100)} ms` : undefined);
  await sleep(step.forMs);
  await proxy.pass();
  log('heal', name);
}
