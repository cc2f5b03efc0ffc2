import { makePng } from '@kefu/wechat-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent } from '../src/modules/agents/agent-service';
import { ApiClient } from './api-client';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';

describe.each(DIALECTS)('bad input at the REST API (%s)', (dialect) => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(dialect);
  });
  afterAll(() => s?.close());

  /** An agent with an accepted conversation of a fresh customer. */
  async function activeConversation(name: string, openid: string) {
    const agent = await s.agent(name);
    await s.sim.sendText(s.channel.appId, openid, '你好');
    const { items } = await agent.get('/api/conversations?state=queued');
    const conv = items.find((c: any) => c.customer.openid === openid);
    await agent.post(`/api/conversations/${conv.id}/accept`);
    return { agent, convId: conv.id as string };
  }

  it('answers 400 VALIDATION_FAILED naming the field', async () => {
    const { agent, convId } = await activeConversation('vera', 'o-valid');
    const channelsBefore = (await s.owner.get('/api/channels')).items.length;
    const reply = `/api/conversations/${convId}/messages`;
    const newAgent = { login: 'shorty', displayName: 'S', password: 'long-enough-1' };
    const newChannel = { name: 'Bad', originalId: 'gh_abc', appSecret: 'secret-123', token: 'tok' };
    const cases: [ApiClient, string, string, unknown, string][] = [
      [agent, 'POST', reply, { clientId: 'v1', kind: 'text', text: '' }, 'text'],
      [agent, 'POST', reply, { clientId: 'v2', kind: 'text', text: '   ' }, 'text'],
      [agent, 'POST', reply, { kind: 'text', text: '好' }, 'clientId'],
      [agent, 'POST', reply, { clientId: 'v3', kind: 'video' }, 'kind'],
      [agent, 'PUT', '/api/me/status', { status: 'sleeping' }, 'status'],
      [s.owner, 'POST', '/api/agents', { ...newAgent, password: 'short' }, 'password'],
      [s.owner, 'POST', '/api/agents', { ...newAgent, login: 'has space' }, 'login'],
      [s.owner, 'PUT', '/api/settings', { sensitiveWords: 'not-a-list' }, 'sensitiveWords'],
      [s.owner, 'POST', '/api/channels', { ...newChannel, appId: 'not-an-appid' }, 'appId'],
      [
        s.owner,
        'POST',
        '/api/channels',
        { ...newChannel, appId: 'wx12345678', token: '' },
        'token',
      ],
    ];
    for (const [client, method, url, body, field] of cases) {
      const err = await client.fails(client.request(method, url, body));
      expect([err.status, err.body.code, err.body.details?.field], url).toEqual([
        400,
        'VALIDATION_FAILED',
        field,
      ]);
    }
    const query = await agent.fails(agent.get('/api/conversations?state=bogus'));
    expect([query.status, query.body.details?.field]).toEqual([400, 'state']);
    // A body that is not JSON at all.
    const raw = await agent.fails(
      agent.request('PUT', '/api/me/status', Buffer.from('{"status":'), {
        'content-type': 'application/json',
      }),
    );
    expect([raw.status, raw.body.code]).toEqual([400, 'VALIDATION_FAILED']);

    // Nothing was created or sent.
    const agents = (await s.owner.get('/api/agents')).items.map((a: any) => a.login);
    expect(agents).not.toContain('shorty');
    expect((await s.owner.get('/api/channels')).items).toHaveLength(channelsBefore);
    const msgs = (await agent.get(`/api/conversations/${convId}/messages`)).items;
    expect(msgs.filter((m: any) => m.direction === 'out')).toEqual([]);
  });

  it('answers 401 AUTH_REQUIRED without a session and 403 AUTH_FORBIDDEN to an agent on admin routes', async () => {
    const anon = new ApiClient(s.url, '');
    const forged = new ApiClient(s.url, 'not-a-real-token');
    for (const client of [anon, forged]) {
      for (const [method, url] of [
        ['GET', '/api/me'],
        ['GET', '/api/conversations'],
        ['POST', '/api/agents'],
        ['PUT', '/api/settings'],
        ['POST', '/api/media'],
      ] as const) {
        const body = method === 'GET' ? undefined : {};
        const err = await client.fails(client.request(method, url, body));
        expect([err.status, err.body.code], `${method} ${url}`).toEqual([401, 'AUTH_REQUIRED']);
      }
    }
    const agent = await s.agent('ned');
    const me = await agent.get('/api/me');
    const admin: [string, string, unknown][] = [
      ['GET', '/api/channels', undefined],
      ['POST', '/api/agents', { login: 'sneaky', displayName: 'S', password: 'long-enough-1' }],
      ['PATCH', `/api/agents/${agent.agentId}`, { role: 'admin' }],
      ['POST', `/api/agents/${agent.agentId}/password`, { password: 'long-enough-2' }],
      ['PATCH', `/api/channels/${s.channel.id}`, { name: 'Mine now' }],
      ['PUT', '/api/settings', { sensitiveWords: [] }],
    ];
    for (const [method, url, body] of admin) {
      const err = await agent.fails(agent.request(method, url, body));
      expect([err.status, err.body.code], `${method} ${url}`).toEqual([403, 'AUTH_FORBIDDEN']);
    }
    expect((await agent.get('/api/me')).agent).toEqual(me.agent);
    expect(await ApiClient.login(s.url, me.agent.login, 'agent-pass-1')).toBeInstanceOf(ApiClient);
    const logins = (await s.owner.get('/api/agents')).items.map((a: any) => a.login);
    expect(logins).not.toContain('sneaky');
    expect((await s.owner.get(`/api/channels/${s.channel.id}`)).name).toBe('Demo shop');

    // A signed-out session is no session.
    await agent.post('/api/auth/logout');
    const out = await agent.fails(agent.get('/api/me'));
    expect([out.status, out.body.code]).toEqual([401, 'AUTH_REQUIRED']);
  });

  it('answers 429 AUTH_RATE_LIMITED after 10 wrong passwords', async () => {
    // Its own stack: the limiter also counts per address, and every test signs in from 127.0.0.1.
    const st = await startStack(dialect);
    try {
      await st.owner.post('/api/agents', {
        login: 'rita-limit',
        displayName: 'Rita',
        password: 'right-pass-1',
      });
      const anon = new ApiClient(st.url, '');
      for (let i = 0; i < 10; i++) {
        const err = await anon.fails(
          anon.post('/api/auth/login', { login: 'rita-limit', password: `wrong-${i}` }),
        );
        expect([err.status, err.body.code]).toEqual([401, 'AUTH_INVALID_CREDENTIALS']);
      }
      // Even the right password waits now.
      const limited = await anon.fails(
        anon.post('/api/auth/login', { login: 'rita-limit', password: 'right-pass-1' }),
      );
      expect([limited.status, limited.body.code]).toEqual([429, 'AUTH_RATE_LIMITED']);
      expect(limited.body.details?.retryAfterMs).toBeGreaterThan(0);
      st.clock.advance(5 * 60_000 + 1);
      const rita = await ApiClient.login(st.url, 'rita-limit', 'right-pass-1');
      expect(rita.token).not.toBe('');
    } finally {
      await st.close();
    }
  });

  it('refuses the 101st agent of a channel with 409 CHANNEL_AGENT_LIMIT', async () => {
    const ch = await s.owner.post('/api/channels', {
      name: 'Busy shop',
      appId: `wx${Date.now().toString(16)}`,
      originalId: 'gh_busy',
      appSecret: 'secret-busy-1',
      token: 'busytoken',
      mode: 'plaintext',
      apiBase: s.sim.url,
    });
    const ctx = s.app.kefu.ctx;
    const tag = Date.now().toString(36);
    // One agent through the service; 99 more as copies of its row (scrypt 100 times is slow).
    const first = await createAgent(ctx, s.workspaceId, {
      login: `bulk-${tag}-0`,
      displayName: 'Bulk 0',
      password: 'bulk-pass-1',
      role: 'agent',
      capacity: 5,
      channelIds: [],
    });
    const row = await ctx.db
      .selectFrom('agents')
      .selectAll()
      .where('id', '=', first.id)
      .executeTakeFirstOrThrow();
    const copies = Array.from({ length: 99 }, (_, i) => ({
      ...row,
      id: `${first.id}-${i + 1}`,
      login: `bulk-${tag}-${i + 1}`,
      displayName: `Bulk ${i + 1}`,
    }));
    await ctx.db.insertInto('agents').values(copies).execute();
    const ids = [first.id, ...copies.map((c) => c.id)];
    const bound = await s.owner.put(`/api/channels/${ch.id}/agents`, { agentIds: ids });
    expect(bound.items).toHaveLength(100);

    const extra = await s.owner.fails(
      s.owner.post('/api/agents', {
        login: `bulk-${tag}-extra`,
        displayName: 'One too many',
        password: 'bulk-pass-1',
        channelIds: [ch.id],
      }),
    );
    expect([extra.status, extra.body.code]).toEqual([409, 'CHANNEL_AGENT_LIMIT']);
    // The refusal is whole: no half-made agent is left behind.
    const logins = (await s.owner.get('/api/agents')).items.map((a: any) => a.login);
    expect(logins).not.toContain(`bulk-${tag}-extra`);

    const other = await s.agent('overflow');
    const viaPut = await s.owner.fails(
      s.owner.put(`/api/channels/${ch.id}/agents`, { agentIds: [...ids, other.agentId] }),
    );
    expect([viaPut.status, viaPut.body.code]).toEqual([409, 'CHANNEL_AGENT_LIMIT']);
    const bindings = await ctx.db
      .selectFrom('channelAgents')
      .select('agentId')
      .where('channelId', '=', ch.id)
      .execute();
    expect(bindings).toHaveLength(100);
    expect(bindings.map((b) => b.agentId)).not.toContain(other.agentId);
  });

  it('refuses a non-image upload with 415 and an image over 2 MB with 413', async () => {
    const agent = await s.agent('uma');
    const count = async () =>
      Number(
        (
          await s.app.kefu.ctx.db
            .selectFrom('media')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('workspaceId', '=', s.workspaceId)
            .executeTakeFirstOrThrow()
        ).n,
      );
    const before = await count();
    const unsupported: [Buffer | object, Record<string, string>][] = [
      [Buffer.from('hello, not a picture'), { 'content-type': 'image/png' }],
      [Buffer.from('%PDF-1.7\n'), { 'content-type': 'application/octet-stream' }],
      [
        Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'),
        { 'content-type': 'image/svg+xml' },
      ],
      [Buffer.from('plain'), { 'content-type': 'text/plain' }],
      [{ image: 'json' }, {}],
    ];
    for (const [body, headers] of unsupported) {
      const err = await agent.fails(agent.post('/api/media', body, headers));
      expect([err.status, err.body.code]).toEqual([415, 'MEDIA_UNSUPPORTED']);
    }
    const png = makePng(8, 8, () => [1, 2, 3]);
    for (const size of [2 * 1024 * 1024 + 1, 4 * 1024 * 1024]) {
      const big = Buffer.concat([png, Buffer.alloc(size - png.length)]);
      const err = await agent.fails(agent.post('/api/media', big, { 'content-type': 'image/png' }));
      expect(err.status).toBe(413);
      expect(['MEDIA_TOO_LARGE', 'BODY_TOO_LARGE']).toContain(err.body.code);
    }
    expect(await count()).toBe(before);
    // The same picture at a legal size is accepted.
    const ok = await agent.post('/api/media', png, { 'content-type': 'image/png' });
    expect(ok).toMatchObject({ mime: 'image/png', size: png.length });
  });

  it('refuses a reply with a sensitive word (422) and sends nothing', async () => {
    await s.owner.put('/api/settings', { sensitiveWords: ['微信转账', 'BadWord'] });
    const { agent, convId } = await activeConversation('wendy', 'o-words');
    for (const [i, text] of ['请用微信转账付款', 'that is a badword indeed'].entries()) {
      const err = await agent.fails(
        agent.post(`/api/conversations/${convId}/messages`, {
          clientId: `w${i}`,
          kind: 'text',
          text,
        }),
      );
      expect([err.status, err.body.code]).toEqual([422, 'MESSAGE_SENSITIVE_WORD']);
      expect(err.body.details?.word).toBeDefined();
    }
    const msgs = (await agent.get(`/api/conversations/${convId}/messages`)).items;
    expect(msgs.filter((m: any) => m.direction === 'out')).toEqual([]);
    // The refusals used none of the customer's five replies.
    const { customer } = await agent.get(`/api/customers/${msgs[0].customerId}`);
    expect(customer.window.quotaLeft).toBe(5);
    // A clean reply goes through; once it is delivered, it is the only thing the customer got.
    const ok = await agent.post(`/api/conversations/${convId}/messages`, {
      clientId: 'w-clean',
      kind: 'text',
      text: '请用小程序内支付',
    });
    await waitFor(
      async () =>
        (await agent.get(`/api/conversations/${convId}/messages`)).items.find(
          (m: any) => m.id === ok.id && m.delivery === 'sent',
        ),
      10_000,
      'the clean reply sent',
    );
    expect(s.sim.inbox(s.channel.appId, 'o-words').map((i) => i.text)).toEqual([
      '请用小程序内支付',
    ]);
    await s.owner.put('/api/settings', { sensitiveWords: [] });
  });
});
