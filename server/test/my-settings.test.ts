import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';

describe.each(DIALECTS)('PUT /api/me/settings (%s)', (dialect) => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(dialect);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('takes servingChannelIds alone (it answered 500: an UPDATE with nothing to set)', async () => {
    const agent = await s.agent('serving-only');
    const off = await agent.put<{ channels: { channelId: string; serving: boolean }[] }>(
      '/api/me/settings',
      { servingChannelIds: [] },
    );
    expect(off.channels).toEqual([{ channelId: s.channel.id, serving: false }]);
    const on = await agent.put<{ channels: { channelId: string; serving: boolean }[] }>(
      '/api/me/settings',
      { servingChannelIds: [s.channel.id] },
    );
    expect(on.channels).toEqual([{ channelId: s.channel.id, serving: true }]);
  });

  it('refuses an oversized list with 400 and changes nothing', async () => {
    const agent = await s.agent('too-many');
    const res = await fetch(`${s.url}/api/me/settings`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${agent.token}` },
      body: JSON.stringify({ servingChannelIds: Array.from({ length: 501 }, (_, i) => `c${i}`) }),
    });
    expect(res.status).toBe(400);
    const me = await agent.get<{ agent: { channels: { serving: boolean }[] } }>('/api/me');
    expect(me.agent.channels.every((c) => c.serving)).toBe(true);
  });

  it('serving choice filters the queue (serving=1), and only auto-assigns from served ones', async () => {
    const second = await s.addChannel('Second shop');
    const agent = await s.agent('serves-one');
    const me = await agent.get<{ agent: { id: string } }>('/api/me');
    await s.owner.put(`/api/channels/${second.id}/agents`, { agentIds: [me.agent.id] });
    const openidA = `oA${Date.now()}`;
    const openidB = `oB${Date.now()}`;
    await s.sim.sendText(s.channel.appId, openidA, 'from the first shop');
    await s.sim.sendText(second.appId, openidB, 'from the second shop');
    type List = { items: { channelId: string; customer: { openid?: string } }[] };
    const queued = (q = '') =>
      agent
        .get<List>(`/api/conversations?state=queued&limit=200${q}`)
        .then((r) => r.items.filter((c) => [s.channel.id, second.id].includes(c.channelId)));
    await waitFor(async () => (await queued()).length >= 2, 10_000, 'both queued');

    // Serving only the second shop: the filtered queue drops the first, the full one keeps it.
    await agent.put('/api/me/settings', { servingChannelIds: [second.id] });
    const served = await queued('&serving=1');
    expect(new Set(served.map((c) => c.channelId))).toEqual(new Set([second.id]));
    const all = await queued();
    expect(new Set(all.map((c) => c.channelId))).toEqual(new Set([s.channel.id, second.id]));

    // Auto-accept takes only from what is served.
    await agent.put('/api/me/settings', { autoAccept: true });
    const mine = await waitFor(
      async () => {
        const r = await agent.get<List>('/api/conversations?state=active&mine=1');
        return r.items.length > 0 ? r.items : null;
      },
      10_000,
      'auto-assigned',
    );
    expect(mine.map((c) => c.channelId)).toEqual([second.id]);
    expect((await queued()).map((c) => c.channelId)).toContain(s.channel.id);

    // Serving nothing: the served queue is empty.
    await agent.put('/api/me/settings', { servingChannelIds: [] });
    expect(await queued('&serving=1')).toEqual([]);
  });
});
