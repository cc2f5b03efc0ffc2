import { makePng } from '@kefu/wechat-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace } from '../src/modules/admin/workspace-service';
import { ApiClient, type ApiError } from './api-client';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';

/** What workspace A owns, by id. */
interface Owned {
  alice: ApiClient;
  channelId: string;
  activeConvId: string;
  queuedConvId: string;
  customerId: string;
  inboundMediaId: string;
  uploadedMediaId: string;
  replyId: string;
}

describe.each(DIALECTS)('workspaces never see each other (%s)', (dialect) => {
  let s: Stack;
  let a: Owned;
  let bOwner: ApiClient;
  let bAgent: ApiClient;
  let bChannelId: string;

  beforeAll(async () => {
    s = await startStack(dialect);
    // Workspace A: an accepted conversation with an image both ways, and one still queued.
    const alice = await s.agent('alice');
    await s.sim.sendImage(
      s.channel.appId,
      'o-a-1',
      makePng(16, 16, () => [9, 9, 9]),
    );
    const conv = (await alice.get('/api/conversations?state=queued')).items.find(
      (c: any) => c.customer.openid === 'o-a-1',
    );
    await alice.post(`/api/conversations/${conv.id}/accept`);
    const inbound = await waitFor(async () =>
      (await alice.get(`/api/conversations/${conv.id}/messages`)).items.find(
        (m: any) => m.kind === 'image' && m.mediaId,
      ),
    );
    const upload = await alice.post(
      '/api/media',
      makePng(8, 8, () => [1, 1, 1]),
      {
        'content-type': 'image/png',
      },
    );
    const reply = await alice.post(`/api/conversations/${conv.id}/messages`, {
      clientId: 'a-1',
      kind: 'text',
      text: '您好',
    });
    await s.sim.sendText(s.channel.appId, 'o-a-2', '还在排队');
    const queued = (await alice.get('/api/conversations?state=queued')).items.find(
      (c: any) => c.customer.openid === 'o-a-2',
    );
    a = {
      alice,
      channelId: s.channel.id,
      activeConvId: conv.id,
      queuedConvId: queued.id,
      customerId: conv.customer.id,
      inboundMediaId: inbound.mediaId,
      uploadedMediaId: upload.id,
      replyId: reply.id,
    };

    // Workspace B on the same server: its owner, a mini program and an agent.
    await createWorkspace(s.app.kefu.ctx, {
      name: 'Other shop',
      login: `owner-b-${dialect}`,
      password: 'owner-b-pass',
    });
    bOwner = await ApiClient.login(s.url, `owner-b-${dialect}`, 'owner-b-pass');
    const ch = await bOwner.post('/api/channels', {
      name: 'B shop',
      appId: 'wxbbbbbbbbbbbbbbbb',
      originalId: 'gh_bbbbbb',
      appSecret: 'secret-b-123',
      token: 'tokenb',
      mode: 'plaintext',
      apiBase: s.sim.url,
    });
    bChannelId = ch.id;
    await bOwner.post('/api/agents', {
      login: `bob-b-${dialect}`,
      displayName: 'Bob',
      password: 'bob-b-pass',
      channelIds: [bChannelId],
    });
    bAgent = await ApiClient.login(s.url, `bob-b-${dialect}`, 'bob-b-pass');
  });
  afterAll(() => s?.close());

  async function expect404(client: ApiClient, method: string, url: string, body?: unknown) {
    const res = await client.request(method, url, body).then(
      (ok) => ({ status: 200, body: ok as { code?: string } }),
      (err: ApiError) => err,
    );
    expect(res.status, `${method} ${url} → ${JSON.stringify(res.body)}`).toBe(404);
    return res.body.code;
  }

  it('answers 404 to reads of the other workspace’s ids', async () => {
    for (const client of [bOwner, bAgent]) {
      const reads = [
        `/api/conversations/${a.activeConvId}`,
        `/api/conversations/${a.queuedConvId}`,
        `/api/conversations/${a.activeConvId}/messages`,
        `/api/media/${a.inboundMediaId}`,
        `/api/media/${a.uploadedMediaId}`,
        `/api/customers/${a.customerId}`,
        `/api/customers/${a.customerId}/messages`,
      ];
      for (const url of reads) await expect404(client, 'GET', url);
    }
    expect(await expect404(bOwner, 'GET', `/api/channels/${a.channelId}`)).toBe(
      'CHANNEL_NOT_FOUND',
    );

    // Lists filtered by the other workspace's ids are empty, and lists never include them.
    const byChannel = await bOwner.get(`/api/conversations?channelId=${a.channelId}`);
    const byCustomer = await bOwner.get(`/api/conversations?customerId=${a.customerId}`);
    expect([byChannel.items, byCustomer.items]).toEqual([[], []]);
    const everything = JSON.stringify([
      await bOwner.get('/api/conversations'),
      await bOwner.get('/api/agents'),
      await bOwner.get('/api/channels'),
      await bOwner.get('/api/me'),
      await bAgent.get('/api/conversations'),
    ]);
    for (const id of [a.activeConvId, a.queuedConvId, a.channelId, a.alice.agentId, a.customerId])
      expect(everything).not.toContain(id);
  });

  it('answers 404 to changes of the other workspace’s ids and changes nothing', async () => {
    const convRoutes = (id: string): [string, string, unknown][] => [
      ['POST', `/api/conversations/${id}/accept`, {}],
      ['POST', `/api/conversations/${id}/close`, {}],
      ['POST', `/api/conversations/${id}/transfer`, { agentId: bAgent.agentId }],
      [
        'POST',
        `/api/conversations/${id}/messages`,
        { clientId: `x-${id}`, kind: 'text', text: '?' },
      ],
      ['POST', `/api/conversations/${id}/typing`, {}],
    ];
    for (const client of [bOwner, bAgent]) {
      for (const id of [a.activeConvId, a.queuedConvId])
        for (const [method, url, body] of convRoutes(id))
          await expect404(client, method, url, body);
      await expect404(client, 'POST', `/api/messages/${a.replyId}/retry`);
    }
    const adminRoutes: [string, string, unknown][] = [
      ['PATCH', `/api/agents/${a.alice.agentId}`, { displayName: 'Hijacked', disabled: true }],
      ['POST', `/api/agents/${a.alice.agentId}/password`, { password: 'taken-over-1' }],
      ['PATCH', `/api/channels/${a.channelId}`, { name: 'Hijacked' }],
      ['POST', `/api/channels/${a.channelId}/test`, {}],
      ['PUT', `/api/channels/${a.channelId}/agents`, { agentIds: [bAgent.agentId] }],
      ['DELETE', `/api/channels/${a.channelId}`, undefined],
      // B's own channel, but A's agent; B's own agent, but A's channel.
      ['PUT', `/api/channels/${bChannelId}/agents`, { agentIds: [a.alice.agentId] }],
      [
        'POST',
        '/api/agents',
        {
          login: `spy-${dialect}`,
          displayName: 'Spy',
          password: 'spy-pass-1',
          channelIds: [a.channelId],
        },
      ],
    ];
    for (const [method, url, body] of adminRoutes) await expect404(bOwner, method, url, body);
    // A's media cannot be sent from B either.
    const bConv = await bOwner.fails(
      bOwner.post(`/api/conversations/${a.activeConvId}/messages`, {
        clientId: 'b-img',
        kind: 'image',
        mediaId: a.uploadedMediaId,
      }),
    );
    expect(bConv.status).toBe(404);

    // Workspace A is exactly as it was.
    const active = await a.alice.get(`/api/conversations/${a.activeConvId}`);
    expect(active).toMatchObject({ state: 'active', agentId: a.alice.agentId });
    const queued = await a.alice.get(`/api/conversations/${a.queuedConvId}`);
    expect(queued).toMatchObject({ state: 'queued', agentId: null });
    const me = (await a.alice.get('/api/me')).agent;
    expect(me).toMatchObject({ displayName: 'alice', disabled: false });
    expect(me.channels.map((c: any) => c.channelId)).toEqual([a.channelId]);
    await ApiClient.login(s.url, me.login, 'agent-pass-1');
    const channel = await s.owner.get(`/api/channels/${a.channelId}`);
    expect(channel.name).toBe('Demo shop');
    const bound = await s.app.kefu.ctx.db
      .selectFrom('channelAgents')
      .select('agentId')
      .where('channelId', '=', a.channelId)
      .execute();
    expect(bound.map((b) => b.agentId)).not.toContain(bAgent.agentId);
    const logins = await s.app.kefu.ctx.db.selectFrom('agents').select('login').execute();
    expect(logins.map((l) => l.login)).not.toContain(`spy-${dialect}`);
    const out = (await a.alice.get(`/api/conversations/${a.activeConvId}/messages`)).items.filter(
      (m: any) => m.direction === 'out',
    );
    expect(out.map((m: any) => m.id)).toEqual([a.replyId]);
  });

  it('never streams one workspace’s events to the other', async () => {
    const bOwnerRt = await bOwner.socket();
    const bAgentRt = await bAgent.socket();
    const aOwnerRt = await s.owner.socket();
    const bob = await s.agent('bob-a');
    // A: a new customer, an accept, a reply, a close, a status change.
    await s.sim.sendText(s.channel.appId, 'o-a-3', '实时消息');
    const { conversation } = await aOwnerRt.event(
      'conversation.queued',
      (d) => d.conversation.customer.openid === 'o-a-3',
    );
    await bob.post(`/api/conversations/${conversation.id}/accept`);
    const reply = await bob.post(`/api/conversations/${conversation.id}/messages`, {
      clientId: 'rt-1',
      kind: 'text',
      text: '收到',
    });
    await aOwnerRt.event(
      'message.updated',
      (d) => d.message.id === reply.id && d.message.delivery === 'sent',
    );
    await bob.post(`/api/conversations/${conversation.id}/close`);
    await aOwnerRt.event('conversation.closed', (d) => d.conversation.id === conversation.id);

    // B: its own event comes after all of A's, so anything leaked would already be here.
    await bAgent.put('/api/me/status', { status: 'online' });
    for (const rt of [bOwnerRt, bAgentRt])
      await rt.event('agent.status_changed', (d) => d.agentId === bAgent.agentId);
    await bOwner.put('/api/me/status', { status: 'online' });
    await bOwnerRt.event('agent.status_changed', (d) => d.agentId === bOwner.agentId);
    const seenByB = JSON.stringify([...bOwnerRt.frames, ...bAgentRt.frames]);
    for (const id of [conversation.id, reply.id, bob.agentId, a.channelId, '实时消息', '收到'])
      expect(seenByB).not.toContain(id);
    const bNames = bOwnerRt.events().map((e) => e.name);
    expect(bNames).toEqual(['agent.status_changed', 'agent.status_changed']);

    // And the other way: A's socket saw its own events, none of B's.
    await s.owner.put('/api/me/status', { status: 'online' });
    await aOwnerRt.event('agent.status_changed', (d) => d.agentId === s.owner.agentId);
    const seenByA = JSON.stringify(aOwnerRt.frames);
    for (const id of [bAgent.agentId, bOwner.agentId, bChannelId])
      expect(seenByA).not.toContain(id);

    // A resume from the start replays only B's own history.
    const replay = await bOwner.socket(0);
    expect(replay.frames.find((f) => f.type === 'resumed')).toMatchObject({ replayed: 2 });
    expect(replay.events().map((e) => e.data.agentId)).toEqual([bAgent.agentId, bOwner.agentId]);
    for (const rt of [bOwnerRt, bAgentRt, aOwnerRt, replay]) await rt.close();
  });
});
