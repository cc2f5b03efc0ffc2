import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';

describe.each(DIALECTS)('API surface (%s)', (dialect) => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(dialect);
  });
  afterAll(() => s?.close());

  it('serves an OpenAPI document describing every route', async () => {
    const doc: any = await (await fetch(`${s.url}/api/openapi.json`)).json();
    expect(doc.openapi).toBe('3.1.0');
    const accept = doc.paths['/api/conversations/{id}/accept'].post;
    expect(accept.summary).toMatch(/CONV_ALREADY_TAKEN/);
    const reply = doc.paths['/api/conversations/{id}/messages'].post;
    expect(JSON.stringify(reply.requestBody)).toContain('clientId');
    expect(doc.components.schemas.Error.properties.code.enum).toContain('WINDOW_CLOSED');
  });

  it('typing reaches the customer within 30 s of an exchange, once per 15 s', async () => {
    const a = await s.agent('typist');
    await s.sim.sendText(s.channel.appId, 'o-typing', '请问');
    const conv = await waitFor(async () =>
      (await a.get('/api/conversations?state=queued')).items.find(
        (c: any) => c.customer.openid === 'o-typing',
      ),
    );
    await a.post(`/api/conversations/${conv.id}/accept`);
    expect(await a.post(`/api/conversations/${conv.id}/typing`)).toEqual({ sent: true });
    expect(s.sim.typingState(s.channel.appId, 'o-typing').typing).toBe(true);
    const calls = s.sim.stats().typing;
    expect(await a.post(`/api/conversations/${conv.id}/typing`)).toEqual({ sent: false });
    expect(s.sim.stats().typing).toBe(calls);
    s.clock.advance(31_000);
    expect(await a.post(`/api/conversations/${conv.id}/typing`)).toEqual({ sent: false });
  });

  it('searches message text across conversations, literally and only where the agent may look', async () => {
    const a = await s.agent('searcher');
    await s.sim.sendText(s.channel.appId, 'o-search-1', '订单号 A100_5% 还没到');
    await s.sim.sendText(s.channel.appId, 'o-search-2', '我想退货');
    await waitFor(async () => (await a.get('/api/messages/search?q=退货')).items.length === 1);
    const hit = (await a.get(`/api/messages/search?q=${encodeURIComponent('A100_5%')}`)).items;
    expect(hit.map((m: any) => m.body.text)).toEqual(['订单号 A100_5% 还没到']);
    expect((await a.get(`/api/messages/search?q=${encodeURIComponent('A1%')}`)).items).toHaveLength(
      0,
    );
    const bad = await a.fails(a.get('/api/messages/search?q='));
    expect(bad.status).toBe(400);
    // An agent bound to no channel finds nothing.
    await s.owner.post('/api/agents', {
      login: 'unbound-searcher',
      displayName: '未绑定',
      password: 'agent-pass-1',
    });
    const { ApiClient } = await import('./api-client');
    const unbound = await ApiClient.login(s.url, 'unbound-searcher', 'agent-pass-1');
    expect((await unbound.get('/api/messages/search?q=退货')).items).toHaveLength(0);
  });

  it('the health check names the storage dialect', async () => {
    expect(await (await fetch(`${s.url}/api/health`)).json()).toMatchObject({ ok: true, dialect });
  });
});
