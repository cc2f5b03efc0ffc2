import { createSim, type PushRequest, type PushResult, type Sim } from '@kefu/wechat-sim';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app';
import type { Config } from '../src/config';
import { createWorkspace } from '../src/modules/admin/workspace-service';
import { ApiClient } from './api-client';
import { openProbe, type DbProbe } from './db-probe';
import { DIALECTS, testConfig, waitFor } from './harness';
import { kefuEnv, startKefu, type KefuProcess } from './kefu-process';

/*
 * Crash safety (issue 2, "Must show"): a real `kefu start` child is SIGKILLed right after it
 * answered `success` to a burst of pushes, with accepted replies still in its outbox, and
 * restarted on the same data. Every acknowledged push must be stored exactly once and every
 * accepted reply must reach the customer exactly once.
 *
 * Determinism: the kill lands while no outbox job is claimed. The first child never polls the
 * outbox and each customer's first reply has already failed once (WeChat busy, -1), so every
 * reply waits unclaimed. (A job claimed at the kill is taken at once by the restart, its node
 * seen dead; one whose send had started ends failed as DELIVERY_UNCERTAIN, never resent:
 * custom/send has no idempotency key. fault-outbox.test.ts and fault-node.test.ts cover those.)
 */

const BURST = 200;
const CUSTOMERS = 5;
const REPLY_CUSTOMERS = 4;
const REPLIES_EACH = 4; // 16 replies: under the per-agent limit (20 / 10 s) and WeChat's 5 per message
const NO_POLL_MS = '600000';
const POLL_MS = '50';
/** Generous: other suites may share the two cores; a passing run needs a few seconds. */
const WAIT_MS = 30_000;
const TEST_MS = 90_000;
const AGENT = { login: `crash-agent-${randomBytes(3).toString('hex')}`, password: 'agent-pass-1' };

const hex = (n: number) => randomBytes(n).toString('hex');
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

interface Stored {
  id: string;
  body: string;
}

describe.each(DIALECTS)('crash safety: SIGKILL after success, restart (%s)', (dialect) => {
  let sim: Sim;
  let config: Config;
  let cleanup = async () => {};
  let probe: DbProbe | undefined;
  let kefu: KefuProcess | undefined;
  const children: KefuProcess[] = [];
  let agent = new ApiClient('', '');
  const creds = {
    appId: `wx${hex(8)}`,
    originalId: `gh_${hex(6)}`,
    appSecret: `secret${hex(8)}`,
    token: `tok${hex(4)}`,
    encodingAesKey: randomBytes(48)
      .toString('base64')
      .replace(/[^A-Za-z0-9]/g, 'A')
      .slice(0, 43),
    mode: 'safe' as const,
    format: 'json' as const,
  };
  let channelId = '';

  /** Starts a child on the shared data and points the emulator and the agent at it. */
  async function start(pollMs: string): Promise<KefuProcess> {
    const child = await startKefu(kefuEnv(config, { KEFU_OUTBOX_POLL_MS: pollMs }));
    children.push(child);
    kefu = child;
    sim.updateApp(creds.appId, { pushUrl: `${child.url}/wechat/${channelId}` });
    // Sessions live in the database, so the agent's token outlives the process.
    if (agent.token)
      agent = Object.assign(new ApiClient(child.url, agent.token), { agentId: agent.agentId });
    return child;
  }

  /** Platform message id → the texts stored under it (one entry per stored row). */
  async function storedTexts(): Promise<Map<string, string[]>> {
    const rows = await probe!.all<Stored>(
      'select platform_msg_id as id, body from messages where platform_msg_id is not null',
    );
    const map = new Map<string, string[]>();
    for (const r of rows) {
      const text = (JSON.parse(r.body) as { text?: string }).text ?? '';
      map.set(r.id, [...(map.get(r.id) ?? []), text]);
    }
    return map;
  }

  beforeAll(async () => {
    sim = await createSim({ pushTimeoutMs: 5000 });
    const simUrl = await sim.listen(0);
    ({ config, cleanup } = testConfig(dialect, {
      allowedOutboundBases: [simUrl],
      wechatApiBase: simUrl,
      presenceGraceSeconds: 3600,
    }));
    // Workspace, channel and agent go through the API of an in-process app on the same
    // database, closed before any child opens it.
    const app = await buildApp(config, { workers: false, logger: false });
    try {
      const setupUrl = await app.listen({ port: 0, host: '127.0.0.1' });
      const ownerLogin = `crash-owner-${hex(3)}`;
      await createWorkspace(app.kefu.ctx, {
        name: 'Crash shop',
        login: ownerLogin,
        password: 'owner-pass-1',
      });
      const owner = await ApiClient.login(setupUrl, ownerLogin, 'owner-pass-1');
      const channel = await owner.post<{ id: string }>('/api/channels', {
        name: 'Crash shop',
        ...creds,
        apiBase: simUrl,
      });
      channelId = channel.id;
      await owner.post('/api/agents', {
        login: AGENT.login,
        displayName: 'Crash agent',
        password: AGENT.password,
        capacity: 10,
        channelIds: [channelId],
      });
    } finally {
      await app.close();
    }
    sim.addApp(creds);
    const child = await start(NO_POLL_MS);
    agent = await ApiClient.login(child.url, AGENT.login, AGENT.password);
    await agent.put('/api/me/status', { status: 'online' });
    probe = await openProbe(config);
  });

  afterAll(async () => {
    for (const child of children) await child.kill();
    await probe?.close();
    await sim?.close();
    await cleanup();
  });

  it(
    'a burst acknowledged just before the kill is stored once; queued replies are sent once',
    async () => {
      // Four customers write in; the agent accepts each conversation.
      const replyCustomers = range(REPLY_CUSTOMERS).map((i) => `o-reply-${i}`);
      for (const openid of replyCustomers) {
        expect((await sim.sendText(creds.appId, openid, '在吗')).acknowledged).toBe(true);
      }
      const convs = await waitFor(async () => {
        const { items } = await agent.get<{
          items: { id: string; customer: { openid: string } }[];
        }>('/api/conversations?state=queued');
        const ours = items.filter((c) => replyCustomers.includes(c.customer.openid));
        return ours.length === REPLY_CUSTOMERS ? ours : undefined;
      });
      for (const c of convs) await agent.post(`/api/conversations/${c.id}/accept`);

      // WeChat is busy (-1): each reply is accepted (201), tried once, and waits in the outbox.
      sim.injectFault({ api: 'send', errcode: -1, times: 10_000 });
      const replies: { openid: string; text: string }[] = [];
      for (const [i, c] of convs.entries()) {
        for (const j of range(REPLIES_EACH)) {
          const text = `回复 ${i}-${j}`;
          const res = await fetch(`${kefu!.url}/api/conversations/${c.id}/messages`, {
            method: 'POST',
            headers: { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ clientId: `crash-${i}-${j}`, kind: 'text', text }),
          });
          expect(res.status).toBe(201);
          replies.push({ openid: c.customer.openid, text });
        }
      }
      // Settled: nothing claimed, and each customer's oldest reply tried (later ones wait behind
      // it, or were tried too), the same on two probes in a row.
      const total = REPLY_CUSTOMERS * REPLIES_EACH;
      let previous = '';
      await waitFor(
        async () => {
          const [s] = await probe!.all<Record<string, unknown>>(
            `select count(*) as n, sum(case when o.locked_until is null then 0 else 1 end) as locked,
             sum(o.attempts) as attempts,
             count(distinct case when o.attempts > 0 then m.customer_id end) as tried
           from outbox o join messages m on m.id = o.message_id where o.job = 'send'`,
          );
          const now = JSON.stringify(s);
          const settled =
            Number(s!.n) === total &&
            Number(s!.locked) === 0 &&
            Number(s!.tried) === REPLY_CUSTOMERS &&
            now === previous;
          previous = now;
          return settled;
        },
        WAIT_MS,
        'every reply back in the outbox, unclaimed, after a failed try',
      );

      // A burst of pushes from several customers at once; SIGKILL right after the last `success`.
      const burst = range(BURST).map((k) => ({
        openid: `o-burst-${k % CUSTOMERS}`,
        text: `急 ${k}`,
      }));
      let acked = 0;
      let killed: Promise<void> | undefined;
      const results = await Promise.all(
        burst.map(async ({ openid, text }) => {
          const r = await sim.sendText(creds.appId, openid, text);
          if (r.acknowledged && ++acked === BURST) killed = kefu!.kill();
          return { ...r, text };
        }),
      );
      await (killed ?? kefu!.kill());
      expect(results.filter((r) => !r.acknowledged)).toEqual([]);

      // WeChat recovers; Kefu comes back on the same data.
      sim.clearFaults();
      await start(POLL_MS);
      const stored = await storedTexts();
      for (const r of results) expect(stored.get(r.msgId!), r.text).toEqual([r.text]);

      await waitFor(
        async () => {
          const [s] = await probe!.all<{ n: unknown }>('select count(*) as n from outbox');
          return Number(s!.n) === 0;
        },
        WAIT_MS,
        'the outbox drained after the restart',
      );
      for (const openid of replyCustomers) {
        const sent = sim.inbox(creds.appId, openid).map((i) => i.text);
        // Exactly once each, and in the order the agent wrote them.
        expect(sent).toEqual(replies.filter((r) => r.openid === openid).map((r) => r.text));
      }
      const delivery = await probe!.all<{ delivery: string }>(
        "select delivery from messages where client_id like 'crash-%'",
      );
      expect(delivery.map((d) => d.delivery)).toEqual(Array(total).fill('sent'));
    },
    TEST_MS,
  );

  it(
    'pushes WeChat re-delivers after a kill mid-burst are stored exactly once',
    async () => {
      if (!kefu || kefu.exited) await start(POLL_MS);
      const createTime = Math.floor(Date.now() / 1000);
      const pushes = range(BURST).map((k) => {
        const msgId = String(30_000_000_000_000_000n + BigInt(k));
        const text = `重发 ${k}`;
        const push = sim.buildPush(creds.appId, {
          ToUserName: creds.originalId,
          FromUserName: `o-retry-${k % CUSTOMERS}`,
          CreateTime: createTime,
          MsgType: 'text',
          Content: text,
          MsgId: msgId,
        });
        return { msgId, text, push };
      });

      // Three quarters go out at once and the child dies after the 50th `success`: some answers
      // are lost in flight (whether or not the message was committed).
      const first = pushes.slice(0, 150);
      let acked = 0;
      let killed: Promise<void> | undefined;
      const firstResults = await Promise.all(
        first.map(async (p) => {
          const r = await sim.deliver(p.push);
          if (r.acknowledged && ++acked === 50) killed = kefu!.kill();
          return r;
        }),
      );
      expect(killed).toBeDefined();
      await killed;
      // The rest arrive while Kefu is down: WeChat's three tries all fail.
      const lateResults = await Promise.all(pushes.slice(150).map((p) => sim.deliver(p.push)));
      expect(lateResults.every((r) => !r.acknowledged)).toBe(true);

      // After the restart WeChat re-delivers every unacknowledged push, identical bytes, plus a
      // few acknowledged ones (their answer could have been late), all at once.
      const child = await start(POLL_MS);
      const retarget = (push: PushRequest): PushRequest => {
        const u = new URL(push.url);
        return { ...push, url: `${child.url}${u.pathname}${u.search}` };
      };
      const outcomes: PushResult[] = [...firstResults, ...lateResults];
      const again = pushes.filter((_, i) => !outcomes[i]!.acknowledged || i < 20);
      const retried = await Promise.all(again.map((p) => sim.deliver(retarget(p.push))));
      expect(retried.filter((r) => !r.acknowledged)).toEqual([]);

      const stored = await storedTexts();
      for (const p of pushes) expect(stored.get(p.msgId), p.text).toEqual([p.text]);
    },
    TEST_MS,
  );
});
