import { createECDH, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace } from '../src/modules/admin/workspace-service';
import { ApiClient } from './api-client';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';
import {
  acceptQueued,
  createPlaintextChannel,
  pushTextTo,
  settled,
  startRecorder,
  type Recorder,
} from './security-helpers';

function browserKeys() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return {
    p256dh: ecdh.getPublicKey().toString('base64url'),
    auth: randomBytes(16).toString('base64url'),
  };
}

describe.each(DIALECTS)('outbound requests go only where they may (%s)', (dialect) => {
  let s: Stack;
  /** An internal service nothing may reach. */
  let internal: Recorder;
  /** An allowed platform base that answers with redirects to `internal`. */
  let redirector: Recorder;
  let redirectSend = false;
  /** An allowed push service that redirects to `internal`, and one that accepts. */
  let pushRedirect: Recorder;
  let pushSentinel: Recorder;

  beforeAll(async () => {
    internal = await startRecorder();
    redirector = await startRecorder((req, res) => {
      if (redirectSend && req.url?.startsWith('/cgi-bin/stable_token')) {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ access_token: 'T-redirector', expires_in: 7200 }));
        return;
      }
      res.writeHead(302, { location: `${internal.url}${req.url ?? '/'}` }).end();
    });
    pushRedirect = await startRecorder((_req, res) =>
      res.writeHead(302, { location: `${internal.url}/push` }).end(),
    );
    pushSentinel = await startRecorder((_req, res) => res.writeHead(201).end());
    s = await startStack(dialect, {
      config: { allowedOutboundBases: [redirector.url, pushRedirect.url, pushSentinel.url] },
    });
  });
  afterAll(async () => {
    await s?.close();
    for (const r of [internal, redirector, pushRedirect, pushSentinel]) await r?.close();
  });

  it('the platform client follows no redirect: token and send fail with a reason', async () => {
    const ch = await createPlaintextChannel(s.owner, {
      appId: `wx${randomBytes(8).toString('hex')}`,
      appSecret: 'redirected-secret',
      apiBase: redirector.url,
    });
    const login = `redir-${randomBytes(3).toString('hex')}`;
    await s.owner.post('/api/agents', {
      login,
      displayName: login,
      password: 'agent-pass-1',
      channelIds: [ch.id],
    });
    const agent = await ApiClient.login(s.url, login, 'agent-pass-1');
    await agent.put('/api/me/status', { status: 'online' });
    await pushTextTo(s.url, ch, 'o-redirect', '你好');
    const convId = await acceptQueued(agent, 'o-redirect');

    // The token request is redirected.
    const reply = await agent.post(`/api/conversations/${convId}/messages`, {
      clientId: 'r-1',
      kind: 'text',
      text: '回复',
    });
    const first = await settled(agent, convId, reply.id);
    expect(first.delivery).toBe('failed');
    expect(first.errorReason).toMatch(/redirect/);
    expect(redirector.requests.some((r) => r.path.startsWith('/cgi-bin/stable_token'))).toBe(true);

    // The token works; the send is redirected.
    redirectSend = true;
    await agent.post(`/api/messages/${reply.id}/retry`);
    const second = await waitFor(async () => {
      const m = await settled(agent, convId, reply.id);
      return redirector.requests.some((r) => r.path.startsWith('/cgi-bin/message/custom/send'))
        ? m
        : null;
    });
    expect(second.delivery).toBe('failed');
    expect(second.errorReason).toMatch(/redirect/);
    expect(internal.requests).toEqual([]);
    expect(internal.connections).toBe(0);
  });

  it('refuses push endpoints that are not https on a public address (400)', async () => {
    const agent = await s.agent('subscriber', { online: false });
    const refused = [
      'http://push.example.com/x',
      'https://127.0.0.1/x',
      'https://localhost/x',
      'https://[::1]/x',
      'https://[::ffff:10.0.0.1]/x',
      'https://[fe80::1]/x',
      'https://169.254.169.254/latest',
      'https://10.0.0.8/x',
      'https://172.16.5.4/x',
      'https://192.168.1.1/x',
      'https://100.64.1.1/x',
      'https://0.0.0.0/x',
      `${internal.url}/x`,
    ];
    for (const endpoint of refused) {
      const err = await agent.fails(
        agent.post('/api/push/subscriptions', { endpoint, keys: browserKeys() }),
      );
      expect([err.status, err.body.code], endpoint).toEqual([400, 'PUSH_ENDPOINT_REFUSED']);
    }
    const rows = await s.app.kefu.ctx.db
      .selectFrom('pushSubscriptions')
      .select('endpoint')
      .where('agentId', '=', agent.agentId)
      .execute();
    expect(rows).toEqual([]);
    // A public IP literal (no DNS needed) and an operator-allowed origin are accepted.
    for (const endpoint of ['https://8.8.8.8/push/x', `${pushSentinel.url}/push/ok`]) {
      await agent.post('/api/push/subscriptions', { endpoint, keys: browserKeys() });
    }
  });

  it('sends no Web Push to an internal address or through a redirect', async () => {
    const agent = await s.agent('reminded');
    const db = s.app.kefu.ctx.db;
    // Rows as an older version (or a DNS change since) could have left them; sent in this order.
    const endpoints = [
      `${internal.url}/push/plain-http`,
      `https://localhost:${new URL(internal.url).port}/push/by-name`,
      `${pushRedirect.url}/push/redirect`,
      `${pushSentinel.url}/push/sentinel`,
    ];
    for (const [i, endpoint] of endpoints.entries()) {
      await db
        .insertInto('pushSubscriptions')
        .values({
          id: `sub-${dialect}-${i}`,
          workspaceId: s.workspaceId,
          agentId: agent.agentId,
          endpoint,
          keys: JSON.stringify(browserKeys()),
          createdAt: i + 1,
        })
        .execute();
    }
    await s.sim.sendText(s.channel.appId, 'o-remind-me', '有人吗');
    // The sentinel is last: once it has its push, every earlier endpoint has been handled.
    await waitFor(() => pushSentinel.requests.length > 0, 15_000, 'the sentinel push');
    expect(pushRedirect.requests).toHaveLength(1);
    expect(internal.requests).toEqual([]);
    expect(internal.connections).toBe(0);
  });

  it("registering another agent's endpoint from another workspace does not take it", async () => {
    const alice = await s.agent('push-alice', { online: false });
    const tag = randomBytes(3).toString('hex');
    await createWorkspace(s.app.kefu.ctx, {
      name: 'Other shop',
      login: `push-owner-${tag}`,
      password: 'owner-pass-1',
    });
    const ownerB = await ApiClient.login(s.url, `push-owner-${tag}`, 'owner-pass-1');
    const endpoint = `https://8.8.8.8/push/${tag}`;
    const aliceKeys = browserKeys();
    await alice.post('/api/push/subscriptions', { endpoint, keys: aliceKeys });
    await ownerB.post('/api/push/subscriptions', { endpoint, keys: browserKeys() });
    const rows = async () =>
      s.app.kefu.ctx.db
        .selectFrom('pushSubscriptions')
        .select(['agentId', 'workspaceId', 'keys'])
        .where('endpoint', '=', endpoint)
        .orderBy('createdAt')
        .execute();
    const both = await rows();
    expect(both).toHaveLength(2);
    const alices = both.find((r) => r.agentId === alice.agentId);
    expect(alices).toMatchObject({ workspaceId: s.workspaceId, keys: JSON.stringify(aliceKeys) });
    // B's unsubscribe removes B's row only.
    await ownerB.request('DELETE', '/api/push/subscriptions', { endpoint });
    expect((await rows()).map((r) => r.agentId)).toEqual([alice.agentId]);
  });
});
