import type { PushRequest } from '@kefu/wechat-sim';
import type { History, PushRecord, PushTry } from './history';
import { sleep } from './history';
import type { World } from './world';

/** WeChat's rules (§1.7): 5 s per try, 3 tries in all. */
const TRY_TIMEOUT_MS = 5000;
const TRIES = 3;
/** After a fast refusal (503, reset) WeChat's next try is not instant; ours waits this long. */
const RETRY_GAP_MS = 1000;

export interface GeneratorOptions {
  customers: number;
  /** Pushes in all; the run ends when they are sent or the duration is over. */
  pushes: number;
  durationMs: number;
  /** Chance that a try goes out on two connections (to two nodes) at once. */
  concurrentDupRate: number;
  /** Chance that a customer sends 2–3 messages at once (no order expected among them). */
  burstRate: number;
}

/** One try on one node: acknowledged means 200 with `success` or an empty body. */
async function tryOnce(
  url: string | undefined,
  node: string,
  push: PushRequest,
  clock: () => number,
  concurrent: boolean,
): Promise<PushTry> {
  const at = clock();
  if (!url) return { node, at, ms: 0, status: 0, error: 'no live node', acked: false, concurrent };
  const u = new URL(push.url);
  try {
    const res = await fetch(`${url}${u.pathname}${u.search}`, {
      method: 'POST',
      headers: { 'content-type': push.contentType },
      body: push.body,
      signal: AbortSignal.timeout(TRY_TIMEOUT_MS),
    });
    const body = await res.text();
    const acked = res.status === 200 && (body === 'success' || body === '');
    return {
      node,
      at,
      ms: clock() - at,
      status: res.status,
      body: body.slice(0, 200),
      acked,
      concurrent,
    };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const error = e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.message);
    return { node, at, ms: clock() - at, status: 0, error, acked: false, concurrent };
  }
}

/** Picks `n` distinct live nodes (fewer when fewer are up), each with its URL. */
function pick(world: World, rng: () => number, n: number): { url?: string; node: string }[] {
  const live = world.nodes.filter((s) => s.proc && !s.proc.exited);
  if (live.length === 0) return [{ node: '-' }];
  const start = Math.floor(rng() * live.length);
  return Array.from({ length: Math.min(n, live.length) }, (_, k) => {
    const slot = live[(start + k) % live.length]!;
    return { url: slot.proc!.url, node: `${slot.name}.${slot.incarnation}` };
  });
}

/** Delivers one composed push like WeChat: retried until acknowledged, three attempts at most. */
async function deliver(
  world: World,
  rec: PushRecord,
  push: PushRequest,
  rng: () => number,
  clock: () => number,
  dupRate: number,
): Promise<void> {
  for (let attempt = 1; attempt <= TRIES; attempt++) {
    const targets = pick(world, rng, rng() < dupRate ? 2 : 1);
    const concurrent = targets.length > 1;
    const tries = await Promise.all(
      targets.map((t) => tryOnce(t.url, t.node, push, clock, concurrent)),
    );
    rec.tries.push(...tries);
    const acked = tries.filter((t) => t.acked);
    if (acked.length > 0) {
      rec.ackedAt = Math.min(...acked.map((t) => t.at + t.ms));
      return;
    }
    if (attempt < TRIES && tries.every((t) => t.error !== 'timeout')) await sleep(RETRY_GAP_MS);
  }
}

/**
 * Customers writing in: each sends its messages one after another (the next once WeChat is done
 * with the previous one), now and then a burst of 2–3 at once, until the budget or time is spent.
 */
export async function generatePushes(
  world: World,
  history: History,
  opts: GeneratorOptions,
  rng: () => number,
  clock: () => number,
): Promise<void> {
  let budget = opts.pushes;
  const deadline = clock() + opts.durationMs;
  // Mean gap between one customer's messages so that the budget lasts the duration.
  const meanGapMs = (opts.durationMs * opts.customers) / Math.max(1, opts.pushes);
  const customer = async (c: number) => {
    const openid = `o-chaos-${c}`;
    let k = 0;
    await sleep(rng() * Math.min(meanGapMs, opts.durationMs / 2));
    while (budget > 0 && clock() < deadline) {
      const burst = rng() < opts.burstRate ? 2 + Math.floor(rng() * 2) : 1;
      const group: Promise<void>[] = [];
      for (let b = 0; b < burst && budget > 0; b++) {
        budget -= 1;
        k += 1;
        const text = `问 ${openid} #${k}`;
        const { msgId, push } = world.sim.composeText(world.channel.appId, openid, text);
        const rec: PushRecord = { openid, msgId, text, startedAt: clock(), tries: [] };
        history.pushes.push(rec);
        group.push(deliver(world, rec, push, rng, clock, opts.concurrentDupRate));
      }
      await Promise.all(group);
      // Never past the deadline: the run ends when the time is up, not after a last long pause.
      await sleep(Math.min(-Math.log(1 - rng()) * meanGapMs, deadline - clock()));
    }
  };
  await Promise.all(Array.from({ length: opts.customers }, (_, c) => customer(c)));
}
