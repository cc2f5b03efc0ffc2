import { generateAppConfig, type Sim } from '@kefu/wechat-sim';
import type { ApiClient } from '../server/test/api-client';
import { startStack, type Stack } from '../server/test/harness';
import { DIALECT, median, now, percentile, pool, ratioLine, watchSends } from './lib';

/*
 * Kefu limits each agent to 20 replies per 10 s and WeChat allows 5 replies per customer
 * message, so a round is 10 agents × 4 customers × 5 replies, every agent at its limit.
 */
const AGENTS = 10;
const CUSTOMERS_PER_AGENT = 4;
const REPLIES_PER_CUSTOMER = 5;
const ROUNDS = 2;

interface Job {
  appId: string;
  openid: string;
  text: string;
}

interface RoundResult {
  perSecond: number;
  latencies: number[];
}

/** Resolves each expected text with the moment the emulator's inbox received it. */
class Arrivals {
  private readonly customers = new Map<string, { appId: string; openid: string; seen: number }>();
  private readonly waiting = new Map<string, (at: number) => void>();

  constructor(private readonly sim: Sim) {
    watchSends(sim, () => this.check());
  }

  expect(job: Job): Promise<number> {
    const key = `${job.appId}|${job.openid}`;
    if (!this.customers.has(key)) {
      const seen = this.sim.inbox(job.appId, job.openid).length;
      this.customers.set(key, { appId: job.appId, openid: job.openid, seen });
    }
    return new Promise((resolve) => this.waiting.set(job.text, resolve));
  }

  private check(): void {
    const at = now();
    for (const c of this.customers.values()) {
      const inbox = this.sim.inbox(c.appId, c.openid);
      for (; c.seen < inbox.length; c.seen++) {
        const text = inbox[c.seen]!.text ?? '';
        this.waiting.get(text)?.(at);
        this.waiting.delete(text);
      }
    }
  }
}

/**
 * Runs `send` for every job and times each to the inbox. Burst: one sender per group, all
 * groups at once, nobody waits for delivery (throughput, queueing included). Serial: one job
 * at a time, each delivered before the next is sent (the latency of a lone reply).
 */
async function timeRound(
  arrivals: Arrivals,
  groups: Job[][],
  mode: 'burst' | 'serial',
  send: (group: number, job: Job) => Promise<void>,
): Promise<RoundResult> {
  const latencies: number[] = [];
  const landed: Promise<void>[] = [];
  const one = async (g: number, job: Job) => {
    const t0 = now();
    const arrived = arrivals.expect(job);
    await send(g, job);
    const done = arrived.then((at) => void latencies.push(at - t0));
    if (mode === 'serial') await done;
    else landed.push(done);
  };
  const start = now();
  if (mode === 'serial') {
    for (const [g, jobs] of groups.entries()) for (const job of jobs) await one(g, job);
  } else {
    await Promise.all(
      groups.map(async (jobs, g) => {
        for (const job of jobs) await one(g, job);
      }),
    );
    await Promise.all(landed);
  }
  const total = groups.reduce((n, g) => n + g.length, 0);
  return { perSecond: (total / (now() - start)) * 1000, latencies };
}

function jobsFor(appId: string, openids: string[][], tag: string): Job[][] {
  return openids.map((customers, a) =>
    customers.flatMap((openid, c) =>
      Array.from({ length: REPLIES_PER_CUSTOMER }, (_, k) => ({
        appId,
        openid,
        text: `${tag} 您好，订单 ${a}-${c}-${k} 已发货`,
      })),
    ),
  );
}

/** Fresh agents, each with accepted conversations whose reply windows are open. */
async function kefuRound(
  s: Stack,
  arrivals: Arrivals,
  round: string,
  mode: 'burst' | 'serial',
): Promise<RoundResult> {
  const agents: ApiClient[] = [];
  const convOf = new Map<string, string>();
  const openids: string[][] = [];
  for (let a = 0; a < AGENTS; a++) {
    const agent = await s.agent(`bench-${round}-${a}`, { capacity: CUSTOMERS_PER_AGENT });
    agents.push(agent);
    openids.push([]);
    for (let c = 0; c < CUSTOMERS_PER_AGENT; c++) {
      const openid = `o-reply-${round}-${a}-${c}`;
      await s.sim.sendText(s.channel.appId, openid, '你好，我的快递到哪了？');
      const { items } = await agent.get<{ items: { id: string; customer: { openid: string } }[] }>(
        '/api/conversations?state=queued&limit=200',
      );
      const conv = items.find((i) => i.customer.openid === openid);
      if (!conv) throw new Error(`no queued conversation for ${openid}`);
      await agent.post(`/api/conversations/${conv.id}/accept`);
      convOf.set(openid, conv.id);
      openids[a]!.push(openid);
    }
  }
  let n = 0;
  const jobs = jobsFor(s.channel.appId, openids, `k${round}`);
  return timeRound(arrivals, jobs, mode, async (g, job) => {
    await agents[g]!.post(`/api/conversations/${convOf.get(job.openid)}/messages`, {
      clientId: `bench-${round}-${n++}`,
      kind: 'text',
      text: job.text,
    });
  });
}

/** The floor: the same sends as straight custom/send calls to the emulator, one token. */
async function rawRound(
  s: Stack,
  arrivals: Arrivals,
  round: string,
  mode: 'burst' | 'serial',
): Promise<RoundResult> {
  const app = generateAppConfig();
  s.sim.addApp(app); // no push URL: customers' messages only open their reply windows
  const openids = Array.from({ length: AGENTS }, (_, a) =>
    Array.from({ length: CUSTOMERS_PER_AGENT }, (_, c) => `o-raw-${round}-${a}-${c}`),
  );
  await pool(openids.flat(), 8, (openid) =>
    s.sim.sendText(app.appId, openid, '你好，我的快递到哪了？'),
  );
  const tokenRes = await fetch(`${s.sim.url}/cgi-bin/stable_token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'client_credential',
      appid: app.appId,
      secret: app.appSecret,
    }),
  });
  const { access_token: token } = (await tokenRes.json()) as { access_token: string };
  const jobs = jobsFor(app.appId, openids, `r${round}`);
  return timeRound(arrivals, jobs, mode, async (_g, job) => {
    const res = await fetch(`${s.sim.url}/cgi-bin/message/custom/send?access_token=${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ touser: job.openid, msgtype: 'text', text: { content: job.text } }),
    });
    const body = (await res.json()) as { errcode: number };
    if (body.errcode !== 0) throw new Error(`custom/send errcode ${body.errcode}`);
  });
}

/** (b) Reply path: POST reply → the emulator's inbox, vs raw custom/send calls. */
export async function benchReplyPath(): Promise<string[]> {
  const s = await startStack(DIALECT);
  try {
    const arrivals = new Arrivals(s.sim);
    const results = { kefu: { burst: [], serial: [] }, raw: { burst: [], serial: [] } } as Record<
      'kefu' | 'raw',
      Record<'burst' | 'serial', RoundResult[]>
    >;
    // Round 0 of each is the warm-up.
    for (let round = 0; round <= ROUNDS; round++) {
      for (const mode of ['burst', 'serial'] as const) {
        const r = await rawRound(s, arrivals, `${round}${mode}`, mode);
        const k = await kefuRound(s, arrivals, `${round}${mode}`, mode);
        if (round === 0) continue;
        results.raw[mode].push(r);
        results.kefu[mode].push(k);
      }
    }
    const rate = (rs: RoundResult[]) => median(rs.map((r) => r.perSecond));
    const lat = (rs: RoundResult[], p: number) =>
      percentile(
        rs.flatMap((r) => r.latencies),
        p,
      );
    const { kefu, raw } = results;
    const total = AGENTS * CUSTOMERS_PER_AGENT * REPLIES_PER_CUSTOMER;
    console.log(
      `  ${total} replies × ${ROUNDS} rounds, ${DIALECT}; burst: ${AGENTS} senders at once, ` +
        `p50 ${lat(kefu.burst, 50).toFixed(0)} ms (raw ${lat(raw.burst, 50).toFixed(1)} ms) with queueing; ` +
        `one at a time: p95 ${lat(kefu.serial, 95).toFixed(1)} ms (raw ${lat(raw.serial, 95).toFixed(1)} ms)`,
    );
    return [
      ratioLine('reply-path', rate(kefu.burst), rate(raw.burst), 'msg/s'),
      ratioLine('reply-latency-p50', lat(kefu.serial, 50), lat(raw.serial, 50), 'ms'),
    ];
  } finally {
    await s.close();
  }
}
