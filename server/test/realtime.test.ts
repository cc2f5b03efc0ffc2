import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ApiClient } from './api-client';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';

interface Snapshot {
  conversations: Map<string, any>;
  messages: Map<string, any>;
}

/** What a console loads over REST: every conversation it can see and each one's messages. */
async function snapshot(agent: ApiClient): Promise<Snapshot> {
  const conversations = new Map<string, any>();
  for (const c of (await agent.get('/api/conversations?limit=200')).items)
    conversations.set(c.id, c);
  const messages = new Map<string, any>();
  for (const id of conversations.keys()) {
    for (const m of (await agent.get(`/api/conversations/${id}/messages?limit=200`)).items)
      messages.set(m.id, m);
  }
  return { conversations, messages };
}

/** The console's reducer: conversation events upsert the snapshot they carry; message events upsert the message. */
function apply(snap: Snapshot, events: { name: string; data: any }[]): void {
  for (const e of events) {
    if (e.name.startsWith('conversation.'))
      snap.conversations.set(e.data.conversation.id, e.data.conversation);
    if (e.name.startsWith('message.')) snap.messages.set(e.data.message.id, e.data.message);
  }
}

const plain = (s: Snapshot) => ({
  conversations: Object.fromEntries([...s.conversations].sort(([a], [b]) => a.localeCompare(b))),
  messages: Object.fromEntries([...s.messages].sort(([a], [b]) => a.localeCompare(b))),
});

describe.each(DIALECTS)('realtime stream (%s)', (dialect) => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(dialect);
  });
  afterAll(() => s?.close());

  it('a stale snapshot plus the replayed events equals a fresh snapshot', async () => {
    const viewer = await s.agent('viewer');
    const worker = await s.agent('worker');
    await s.sim.sendText(s.channel.appId, 'o-rt-0', '在吗');
    const first = await viewer.socket();
    const stale = await snapshot(viewer);
    const seqAtSnapshot = first.lastSeq;
    await first.close();

    // While the viewer is away: new customers, accepts, replies, delivery updates, a transfer, a close.
    for (let i = 1; i <= 3; i++) await s.sim.sendText(s.channel.appId, `o-rt-${i}`, `顾客${i}`);
    const queued = await waitFor(async () => {
      const items = (await worker.get('/api/conversations?state=queued')).items.filter((c: any) =>
        c.customer.openid.startsWith('o-rt-'),
      );
      return items.length === 4 ? items : null;
    });
    for (const c of queued) await worker.post(`/api/conversations/${c.id}/accept`);
    for (const c of queued)
      await worker.post(`/api/conversations/${c.id}/messages`, {
        clientId: `rt-${c.id}`,
        kind: 'text',
        text: '您好',
      });
    await waitFor(async () => {
      const items = (await worker.get(`/api/conversations/${queued[3].id}/messages`)).items;
      return items.some((m: any) => m.delivery === 'sent');
    });
    await worker
      .post(`/api/conversations/${queued[0].id}/transfer`, { agentId: viewer.agentId })
      .catch(() => undefined);
    await worker.post(`/api/conversations/${queued[1].id}/close`);
    await s.sim.sendText(s.channel.appId, 'o-rt-2', '追问');
    await waitFor(async () => s.sim.inbox(s.channel.appId, 'o-rt-3').length === 1);
    await s.app.kefu.workers.idle();

    const again = await viewer.socket(seqAtSnapshot);
    const resumed = again.frames.find((f) => f.type === 'resumed');
    expect(resumed).toBeDefined();
    apply(stale, again.events());
    const fresh = await snapshot(viewer);
    expect(plain(stale)).toEqual(plain(fresh));
    await again.close();
  });

  it('live events arrive in sequence order without gaps in what the agent may see', async () => {
    const a = await s.agent('seq-a');
    const rt = await a.socket();
    for (let i = 0; i < 10; i++) await s.sim.sendText(s.channel.appId, `o-seq-${i}`, `消息${i}`);
    await waitFor(
      () =>
        rt
          .events()
          .filter(
            (e) =>
              e.name === 'conversation.queued' &&
              e.data.conversation.customer.openid.startsWith('o-seq-'),
          ).length === 10,
    );
    const seqs = rt.events().map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
    await rt.close();
  });

  it('a resume from before the kept history is told to resync', async () => {
    const a = await s.agent('resync-a');
    // Drop all history, as the 24-hour retention would.
    await s.app.kefu.ctx.db.deleteFrom('events').execute();
    await s.sim.sendText(s.channel.appId, 'o-resync', '新消息');
    await waitFor(async () =>
      (await a.get('/api/conversations?state=queued')).items.some(
        (c: any) => c.customer.openid === 'o-resync',
      ),
    );
    const rt = await a.socket(1);
    expect(rt.frames.some((f) => f.type === 'resync')).toBe(true);
    await rt.close();
  });

  it('refuses an unauthenticated upgrade and answers ping with pong', async () => {
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${s.url.replace('http', 'ws')}/api/ws`, {
        headers: { authorization: 'Bearer not-a-session' },
      });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(401);
    const a = await s.agent('pinger');
    const rt = await a.socket();
    rt.ws.send(JSON.stringify({ type: 'ping' }));
    await rt.next((f) => f.type === 'pong');
    await rt.close();
  });

  it("with the 'grace' rule, losing every connection past the grace period makes the agent offline and idles their conversations", async () => {
    // The default rule keeps a closed console online (reminders-routes.test.ts); this workspace
    // chooses the grace period instead.
    await s.owner.put('/api/settings', { presenceRule: 'grace' });
    const g = await s.agent('graceful');
    const rt = await g.socket();
    await s.sim.sendText(s.channel.appId, 'o-grace', '你好');
    const conv = await waitFor(async () =>
      (await g.get('/api/conversations?state=queued')).items.find(
        (c: any) => c.customer.openid === 'o-grace',
      ),
    );
    await g.post(`/api/conversations/${conv.id}/accept`);
    await rt.close();
    // Presence writes its transitions in batches: once the server has seen the socket go, the
    // flush makes the row final (the row's old value may already be non-null meanwhile).
    await waitFor(async () => !(await s.app.kefu.presence.isConnected(g.agentId)));
    await s.app.kefu.presence.flush();
    await waitFor(
      async () =>
        (
          await s.app.kefu.ctx.db
            .selectFrom('agents')
            .select('disconnectedAt')
            .where('id', '=', g.agentId)
            .executeTakeFirstOrThrow()
        ).disconnectedAt != null,
    );
    await s.app.kefu.workers.sweep();
    expect((await g.get('/api/me')).agent.status).toBe('online');
    s.clock.advance(3601_000);
    await s.app.kefu.workers.sweep();
    expect((await g.get('/api/me')).agent.status).toBe('offline');
    expect((await g.get(`/api/conversations/${conv.id}`)).state).toBe('idle');
    await s.owner.put('/api/settings', { presenceRule: 'until_logout' });
  });
});
