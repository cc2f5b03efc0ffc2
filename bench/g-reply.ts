import type { AppConfig } from '@kefu/wechat-sim';
import { checkGenerator } from './g-ingest';
import { startWorker } from './ipc';
import { DIALECT, detail, envInt, fmt, goalLine, Latencies, median, sleep } from './lib';
import type { RequestSpec, RunResult } from './loadgen-http';
import { startBenchStack, type BenchStack } from './stack';

/*
 * G5 reply send path: agents post text replies at a fixed rate (open loop); each is timed from
 * its intended post time to the moment the emulator put it in the customer's inbox (the emulator
 * process records that, keyed by the unique text). A text recorded twice is a duplicate send.
 * Baseline: the same number of custom/send calls straight to the emulator, at the same rate.
 *
 * Within WeChat's and Kefu's limits: 5 replies per customer message, 20 per agent per 10 s.
 */
const AGENTS = 10;
const PER_AGENT = 4;
const RATE = 10;
const ROUND_S = 8;
const ROUNDS = Math.min(2, envInt('KEFU_BENCH_ROUNDS', 2));

interface Target {
  openid: string;
  conv?: string;
  token: string;
}

/** Customers write first (the reply window opens); each agent accepts its four conversations. */
async function kefuTargets(s: BenchStack): Promise<Target[]> {
  const agents = await s.agents('reply', AGENTS, PER_AGENT);
  const targets: Target[] = [];
  for (const [a, agent] of agents.entries()) {
    for (let c = 0; c < PER_AGENT; c++) {
      const openid = `o-reply-${a}-${c}`;
      await s.sim.call('sendText', {
        appId: s.app.appId,
        openid,
        content: '你好，我的快递到哪了？',
      });
      const { items } = await agent.get<{ items: { id: string; customer: { openid: string } }[] }>(
        '/api/conversations?state=queued&limit=200',
      );
      const conv = items.find((i) => i.customer.openid === openid);
      if (!conv) throw new Error(`no queued conversation for ${openid}`);
      await agent.post(`/api/conversations/${conv.id}/accept`);
      targets.push({ openid, conv: conv.id, token: agent.token });
    }
  }
  return targets;
}

async function rawTargets(s: BenchStack): Promise<{ targets: Target[]; app: AppConfig }> {
  const app = await s.sim.call<AppConfig>('addApp', { mode: 'safe', format: 'xml' });
  const targets: Target[] = [];
  const res = await fetch(`${s.simUrl}/cgi-bin/stable_token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      grant_type: 'client_credential',
      appid: app.appId,
      secret: app.appSecret,
    }),
  });
  const { access_token: token } = (await res.json()) as { access_token: string };
  for (let i = 0; i < AGENTS * PER_AGENT; i++) {
    const openid = `o-raw-${i}`;
    await s.sim.call('sendText', { appId: app.appId, openid, content: '你好，我的快递到哪了？' });
    targets.push({ openid, token });
  }
  return { targets, app };
}

function specsFor(s: BenchStack, targets: Target[], tag: string, raw: boolean) {
  const count = RATE * ROUND_S;
  const texts: string[] = [];
  const specs: RequestSpec[] = [];
  for (let i = 0; i < count; i++) {
    const t = targets[i % targets.length]!;
    const text = `${tag}-${i} 您好，您的订单已发货`;
    texts.push(text);
    specs.push(
      raw
        ? {
            method: 'POST',
            url: `${s.simUrl}/cgi-bin/message/custom/send?access_token=${t.token}`,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ touser: t.openid, msgtype: 'text', text: { content: text } }),
          }
        : {
            method: 'POST',
            url: `${s.kefuUrl}/api/conversations/${t.conv}/messages`,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${t.token}` },
            body: JSON.stringify({ clientId: `bench-${tag}-${i}`, kind: 'text', text }),
          },
    );
  }
  return { texts, specs };
}

/** One round: posts at RATE/s, then waits for every text at the emulator (and for late doubles). */
async function round(s: BenchStack, targets: Target[], tag: string, raw: boolean) {
  const { texts, specs } = specsFor(s, targets, tag, raw);
  await s.gen.call('requests', { key: tag, specs });
  const r = await s.gen.call<RunResult & { stamps: number[] }>('open', {
    key: tag,
    rate: RATE,
    timeoutMs: 10_000,
    stamps: true,
  });
  let got: Record<string, number[]> = {};
  for (let t = 0; t < 150; t++) {
    got = await s.sim.call<Record<string, number[]>>('sends', texts);
    if (Object.keys(got).length === texts.length) break;
    await sleep(200);
  }
  await sleep(2000);
  got = await s.sim.call<Record<string, number[]>>('sends', texts);
  const lat = new Latencies();
  let dups = 0;
  texts.forEach((text, i) => {
    const at = got[text];
    if (!at) return;
    lat.record(Math.min(...at) - r.stamps[i]!);
    dups += at.length - 1;
  });
  return {
    latency: lat.summary(),
    dups,
    missing: texts.length - Object.keys(got).length,
    refused: texts.length - r.ok,
  };
}

/** G5: Kefu's reply path vs raw custom/send calls, alternate rounds. */
export async function benchReply(): Promise<string[]> {
  const s = await startBenchStack({ dialect: DIALECT });
  const rawHttp = await startWorker('raw-server.ts');
  try {
    const { url: rawUrl } = await rawHttp.call<{ url: string }>('listen');
    const kefuT = await kefuTargets(s);
    const { targets: rawT } = await rawTargets(s);
    await checkGenerator(s, rawUrl, RATE);
    const kefu = [];
    const base = [];
    for (let r = 0; r < ROUNDS; r++) {
      base.push(await round(s, rawT, `raw${r}`, true));
      kefu.push(await round(s, kefuT, `kefu${r}`, false));
    }
    const p99 = median(kefu.map((k) => k.latency.p99));
    const rawP99 = median(base.map((k) => k.latency.p99));
    const dups = kefu.reduce((n, k) => n + k.dups, 0);
    const missing = kefu.reduce((n, k) => n + k.missing, 0);
    const refused = kefu.reduce((n, k) => n + k.refused, 0);
    detail(
      `${AGENTS} agents × ${PER_AGENT} accepted conversations, ${RATE} replies/s open loop for ${ROUND_S} s × ${ROUNDS} rounds, ${DIALECT}; ` +
        `kefu p50 ${fmt(median(kefu.map((k) => k.latency.p50)))} ms p99 ${kefu.map((k) => fmt(k.latency.p99)).join('/')} ms max ${fmt(Math.max(...kefu.map((k) => k.latency.max)))} ms; ` +
        `raw p99 ${base.map((k) => fmt(k.latency.p99)).join('/')} ms; refused posts ${refused}, never delivered ${missing}, duplicates ${dups}`,
    );
    const line = goalLine({
      name: 'G5 reply-path',
      value: `p99 ${fmt(p99)} ms at ${RATE} replies/s, ${dups} duplicates`,
      ratio: p99 / rawP99,
      baseline: `${fmt(rawP99)} ms`,
      goal: 'p99 stated, 0 duplicates',
      pass: dups === 0 && missing === 0 && refused === 0,
    });
    console.log(line);
    return [line];
  } finally {
    await rawHttp.kill();
    await s.close();
  }
}
