import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from './api-client';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';

async function queuedFor(agent: ApiClient, openid: string) {
  return waitFor(
    async () =>
      (await agent.get('/api/conversations?state=queued')).items.find(
        (c: any) => c.customer.openid === openid,
      ),
    10_000,
    `queued ${openid}`,
  );
}

describe.each(DIALECTS)('conversation flows (%s)', (dialect) => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(dialect);
  });
  afterAll(() => s?.close());

  it('two agents race for one conversation: exactly one wins, the other is told who', async () => {
    const [a, b] = [await s.agent('racer-a'), await s.agent('racer-b')];
    await s.sim.sendText(s.channel.appId, 'o-race', '抢答');
    const conv = await queuedFor(a, 'o-race');
    for (let round = 0; round < 3; round++) {
      const results = await Promise.allSettled([
        a.post(`/api/conversations/${conv.id}/accept`),
        b.post(`/api/conversations/${conv.id}/accept`),
      ]);
      if (round > 0) break;
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      const err = lost[0]!.reason as {
        status: number;
        body: { code: string; details: { agentId: string; agentName: string } };
      };
      expect(err.status).toBe(409);
      expect(err.body.code).toBe('CONV_ALREADY_TAKEN');
      const winner = (won[0] as PromiseFulfilledResult<any>).value;
      expect(err.body.details.agentId).toBe(winner.agentId);
      expect(err.body.details.agentName).toMatch(/^racer-/);
    }
  });

  it('auto-accept spreads load, respects capacity, and drains the queue when capacity appears', async () => {
    const x = await s.agent('auto-x', { autoAccept: true, capacity: 2 });
    const y = await s.agent('auto-y', { autoAccept: true, capacity: 2 });
    for (let i = 0; i < 5; i++)
      await s.sim.sendText(s.channel.appId, `o-auto-${i}`, `第${i}位顾客`);
    const mine = async (c: ApiClient) =>
      (await c.get('/api/conversations?state=active&mine=1')).items.filter((v: any) =>
        v.customer.openid.startsWith('o-auto-'),
      );
    await waitFor(
      async () => (await mine(x)).length === 2 && (await mine(y)).length === 2,
      10_000,
      'both agents full',
    );
    const waiting = (await x.get('/api/conversations?state=queued')).items.filter((c: any) =>
      c.customer.openid.startsWith('o-auto-'),
    );
    expect(waiting).toHaveLength(1);
    expect(waiting[0].customer.openid).toBe('o-auto-4');
    // Closing one frees capacity: the oldest waiting conversation is assigned at once.
    const closeOne = (await mine(x))[0];
    await x.post(`/api/conversations/${closeOne.id}/close`);
    await waitFor(
      async () => (await mine(x)).some((c: any) => c.customer.openid === 'o-auto-4'),
      10_000,
      'queue drained',
    );
    await x.put('/api/me/settings', { autoAccept: false });
    await y.put('/api/me/settings', { autoAccept: false });
    for (const c of [...(await mine(x)), ...(await mine(y))])
      await (c.agentId === x.agentId ? x : y).post(`/api/conversations/${c.id}/close`);
  });

  it('an agent coming online drains the waiting queue oldest first', async () => {
    for (let i = 0; i < 2; i++) await s.sim.sendText(s.channel.appId, `o-late-${i}`, `等待${i}`);
    const z = await s.agent('late-z', { online: false, capacity: 5 });
    await z.put('/api/me/settings', { autoAccept: true });
    expect((await z.get('/api/conversations?state=active&mine=1')).items).toHaveLength(0);
    await z.put('/api/me/status', { status: 'online' });
    const got = await waitFor(async () => {
      const items = (await z.get('/api/conversations?state=active&mine=1')).items;
      return items.length >= 2 ? items : null;
    });
    expect(got.map((c: any) => c.customer.openid).sort()).toEqual(['o-late-0', 'o-late-1']);
    // Away: no new assignments.
    await z.put('/api/me/status', { status: 'away' });
    await s.sim.sendText(s.channel.appId, 'o-late-2', '离开时来的');
    const queued = await queuedFor(z, 'o-late-2');
    expect(queued.state).toBe('queued');
    await z.put('/api/me/settings', { autoAccept: false });
    await z.put('/api/me/status', { status: 'online' });
    await z.post(`/api/conversations/${queued.id}/accept`);
  });

  it('idle after the channel’s idle minutes; re-accept continues; a customer message re-queues preferring the same agent', async () => {
    const i = await s.agent('idler', { autoAccept: true });
    // A live console connection keeps the agent present while the clock jumps past the grace period.
    const rt = await i.socket();
    await s.sim.sendText(s.channel.appId, 'o-idle', '你好');
    const conv = await waitFor(async () =>
      (await i.get('/api/conversations?state=active&mine=1')).items.find(
        (c: any) => c.customer.openid === 'o-idle',
      ),
    );
    s.clock.advance(31 * 60_000);
    await s.app.kefu.workers.sweep();
    const idle = await i.get(`/api/conversations/${conv.id}`);
    expect(idle.state).toBe('idle');
    expect(idle.agentId).toBe(i.agentId);
    const refused = await i.fails(
      i.post(`/api/conversations/${conv.id}/messages`, {
        clientId: 'idle-1',
        kind: 'text',
        text: '还在吗',
      }),
    );
    expect(refused.body.code).toBe('CONV_NOT_ACTIVE');
    expect((await i.post(`/api/conversations/${conv.id}/accept`)).state).toBe('active');
    await i.post(`/api/conversations/${conv.id}/messages`, {
      clientId: 'idle-2',
      kind: 'text',
      text: '我回来了',
    });

    s.clock.advance(31 * 60_000);
    await s.app.kefu.workers.sweep();
    await s.sim.sendText(s.channel.appId, 'o-idle', '人呢？');
    // Re-queued, and the sticky rule hands it straight back to the same agent.
    await waitFor(async () => {
      const c = await i.get(`/api/conversations/${conv.id}`);
      return c.state === 'active' && c.agentId === i.agentId;
    });
    const lines = (await i.get(`/api/conversations/${conv.id}/messages`)).items
      .filter((m: any) => m.kind === 'event')
      .map((m: any) => m.body.event);
    expect(lines).toEqual(expect.arrayContaining(['assigned', 'idled', 'reaccepted', 'requeued']));
    await i.put('/api/me/settings', { autoAccept: false });
    await rt.close();
  });

  it('logout makes the agent offline and their active conversations idle', async () => {
    const l = await s.agent('leaver');
    await s.sim.sendText(s.channel.appId, 'o-logout', '在线吗');
    const conv = await queuedFor(l, 'o-logout');
    await l.post(`/api/conversations/${conv.id}/accept`);
    await l.post('/api/auth/logout');
    const view = await s.owner.get(`/api/conversations/${conv.id}`);
    expect(view).toMatchObject({ state: 'idle', agentId: l.agentId });
    const agents = (await s.owner.get('/api/agents')).items;
    expect(agents.find((a: any) => a.id === l.agentId).status).toBe('offline');
    expect((await l.fails(l.get('/api/me'))).status).toBe(401);
  });

  it('a transient send failure is retried; a permanent one is visible with the code and reason', async () => {
    const t = await s.agent('sender');
    await s.sim.sendText(s.channel.appId, 'o-fail', '测试发送');
    const conv = await queuedFor(t, 'o-fail');
    await t.post(`/api/conversations/${conv.id}/accept`);
    s.sim.injectFault({ api: 'send', errcode: -1, times: 1 });
    const retried = await t.post(`/api/conversations/${conv.id}/messages`, {
      clientId: 'tr-1',
      kind: 'text',
      text: '系统繁忙后重试',
    });
    const sent = await waitFor(
      async () =>
        (await t.get(`/api/conversations/${conv.id}/messages`)).items.find(
          (m: any) => m.id === retried.id && m.delivery === 'sent',
        ),
      15_000,
      'retried send',
    );
    expect(sent.errorCode).toBeNull();
    expect(
      s.sim.inbox(s.channel.appId, 'o-fail').filter((m) => m.text === '系统繁忙后重试'),
    ).toHaveLength(1);

    s.sim.expireTokens(s.channel.appId);
    const afterExpiry = await t.post(`/api/conversations/${conv.id}/messages`, {
      clientId: 'tr-2',
      kind: 'text',
      text: '令牌过期后',
    });
    await waitFor(
      async () =>
        (await t.get(`/api/conversations/${conv.id}/messages`)).items.find(
          (m: any) => m.id === afterExpiry.id && m.delivery === 'sent',
        ),
      15_000,
      'send after token refresh',
    );

    s.sim.injectFault({ api: 'send', errcode: 43019, times: 1 });
    const perm = await t.post(`/api/conversations/${conv.id}/messages`, {
      clientId: 'pf-1',
      kind: 'text',
      text: '永久失败',
    });
    const failed = await waitFor(async () =>
      (await t.get(`/api/conversations/${conv.id}/messages`)).items.find(
        (m: any) => m.id === perm.id && m.delivery === 'failed',
      ),
    );
    expect(failed.errorCode).toBe(43019);
    expect(failed.errorReason).toMatch(/43019/);
    // Retry by hand once the cause is gone.
    await t.post(`/api/messages/${perm.id}/retry`);
    await waitFor(async () =>
      (await t.get(`/api/conversations/${conv.id}/messages`)).items.find(
        (m: any) => m.id === perm.id && m.delivery === 'sent',
      ),
    );
  });

  it('a 45015 from the platform marks the message failed and closes our window', async () => {
    const w = await s.agent('windowed');
    await s.sim.sendText(s.channel.appId, 'o-45015', '窗口');
    const conv = await queuedFor(w, 'o-45015');
    await w.post(`/api/conversations/${conv.id}/accept`);
    s.sim.injectFault({ api: 'send', errcode: 45015, times: 1 });
    const m = await w.post(`/api/conversations/${conv.id}/messages`, {
      clientId: 'w-1',
      kind: 'text',
      text: '超时',
    });
    const failed = await waitFor(async () =>
      (await w.get(`/api/conversations/${conv.id}/messages`)).items.find(
        (x: any) => x.id === m.id && x.delivery === 'failed',
      ),
    );
    expect(failed.errorCode).toBe(45015);
    const after = await w.get(`/api/conversations/${conv.id}`);
    expect(after.customer.window.open).toBe(false);
    expect(
      (
        await w.fails(
          w.post(`/api/conversations/${conv.id}/messages`, {
            clientId: 'w-2',
            kind: 'text',
            text: 'x',
          }),
        )
      ).body.code,
    ).toBe('WINDOW_CLOSED');
  });

  it('transfer to an online colleague; close; the next message opens a new conversation; history spans both', async () => {
    const [p, q] = [await s.agent('from-p'), await s.agent('to-q')];
    await s.sim.enterSession(s.channel.appId, 'o-move', 'product:1001');
    await s.sim.sendText(s.channel.appId, 'o-move', '这个有货吗');
    const conv = await queuedFor(p, 'o-move');
    expect(conv.sessionFrom).toBe('product:1001');
    await p.post(`/api/conversations/${conv.id}/accept`);
    const moved = await p.post(`/api/conversations/${conv.id}/transfer`, { agentId: q.agentId });
    expect(moved).toMatchObject({ state: 'active', agentId: q.agentId });
    expect(
      (
        await p.fails(
          p.post(`/api/conversations/${conv.id}/messages`, {
            clientId: 'mv-1',
            kind: 'text',
            text: 'x',
          }),
        )
      ).body.code,
    ).toBe('CONV_NOT_YOURS');
    await q.post(`/api/conversations/${conv.id}/messages`, {
      clientId: 'mv-2',
      kind: 'text',
      text: '有货的',
    });
    await q.post(`/api/conversations/${conv.id}/close`);
    await s.sim.sendText(s.channel.appId, 'o-move', '再问一下');
    const second = await queuedFor(q, 'o-move');
    expect(second.id).not.toBe(conv.id);
    const history = (await q.get(`/api/customers/${conv.customer.id}/messages?limit=200`)).items;
    const texts = history.filter((m: any) => m.kind === 'text').map((m: any) => m.body.text);
    expect(texts).toEqual(['这个有货吗', '有货的', '再问一下']);
    const entered = history.find((m: any) => m.kind === 'event' && m.body.event === 'entered');
    expect(entered.body.params.sessionFrom).toBe('product:1001');
    const profile = await q.get(`/api/customers/${conv.customer.id}`);
    expect(profile.conversations.map((c: any) => c.id)).toEqual(
      expect.arrayContaining([conv.id, second.id]),
    );
  });
});
