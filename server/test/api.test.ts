import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';

describe.each(DIALECTS.slice(0, 1))('API surface (%s)', (dialect) => {
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

  it('the health check names the storage dialect', async () => {
    expect(await (await fetch(`${s.url}/api/health`)).json()).toMatchObject({ ok: true, dialect });
  });
});
