import { createSim, type Sim } from '@kefu/wechat-sim';
import { randomBytes, scryptSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { derivations, hashPassword, verifyPassword } from '../src/modules/agents/password';
import { ApiClient } from './api-client';
import { clusterOwner, startCluster, type Cluster } from './cluster-harness';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';

/** One sign-in attempt as seen from `ip` (the stacks trust X-Forwarded-For); returns the status. */
async function attempt(url: string, login: string, password: string, ip: string) {
  const res = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
    body: JSON.stringify({ login, password }),
  });
  await res.arrayBuffer();
  return res.status;
}

function tally(statuses: number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const s of statuses) out[s] = (out[s] ?? 0) + 1;
  return out;
}

describe.each(DIALECTS)('sign-in protection (%s)', (dialect) => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(dialect, { config: { trustProxy: true } });
  });
  afterAll(() => s?.close());

  async function agentLogin(name: string): Promise<string> {
    const login = `${name}-${randomBytes(3).toString('hex')}`;
    await s.owner.post('/api/agents', { login, displayName: name, password: 'right-pass-1' });
    return login;
  }

  it('reserves each attempt before checking: 200 parallel guesses after 8 failures get 2 tries', async () => {
    const login = await agentLogin('race');
    const ip = '192.0.2.10';
    for (let i = 0; i < 8; i++) expect(await attempt(s.url, login, `wrong-${i}`, ip)).toBe(401);
    const statuses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => attempt(s.url, login, `parallel-${i}`, ip)),
    );
    const counts = tally(statuses);
    expect(counts[401] ?? 0).toBeLessThanOrEqual(2);
    expect(counts[429]).toBe(200 - (counts[401] ?? 0));
  });

  it('failures from one address do not lock the agent out of their own address', async () => {
    const login = await agentLogin('victim');
    for (let i = 0; i < 10; i++) await attempt(s.url, login, `guess-${i}`, '203.0.113.9');
    expect(await attempt(s.url, login, 'right-pass-1', '203.0.113.9')).toBe(429);
    expect(await attempt(s.url, login, 'right-pass-1', '198.51.100.7')).toBe(200);
  });

  it('a right password clears its address counter for that login', async () => {
    const login = await agentLogin('typo');
    for (let i = 0; i < 9; i++)
      expect(await attempt(s.url, login, `typo-${i}`, '192.0.2.50')).toBe(401);
    expect(await attempt(s.url, login, 'right-pass-1', '192.0.2.50')).toBe(200);
    for (let i = 0; i < 9; i++)
      expect(await attempt(s.url, login, `again-${i}`, '192.0.2.50')).toBe(401);
  });

  it('caps one login across addresses at 100 failures, and one address across logins at 50', async () => {
    const login = await agentLogin('spread');
    for (let a = 0; a < 10; a++)
      for (let i = 0; i < 10; i++)
        expect(await attempt(s.url, login, `x${i}`, `198.18.0.${a + 1}`)).toBe(401);
    expect(await attempt(s.url, login, 'right-pass-1', '198.18.1.1')).toBe(429);

    const logins = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => agentLogin(`spray${i}`)));
    for (const l of logins.slice(0, 5))
      for (let i = 0; i < 10; i++)
        expect(await attempt(s.url, l, `pw${i}`, '198.19.0.1')).toBe(401);
    expect(await attempt(s.url, logins[5]!, 'right-pass-1', '198.19.0.1')).toBe(429);
    expect(await attempt(s.url, logins[5]!, 'right-pass-1', '198.19.0.2')).toBe(200);
    // 150 sequential sign-ins, each a real scrypt: on a loaded machine (the suite run twice in
    // parallel) that took over 30 s. The test is about counts, not speed.
  }, 120_000);

  it('does one scrypt derivation for unknown logins and disabled agents too', async () => {
    const login = await agentLogin('timing');
    const work = async (name: string) => {
      const before = derivations.count;
      expect(await attempt(s.url, name, 'not-it', '192.0.2.200')).toBe(401);
      return { count: derivations.count - before, params: derivations.last };
    };
    const known = await work(login);
    const unknown = await work(`nobody-${randomBytes(3).toString('hex')}`);
    const agents = (await s.owner.get('/api/agents')).items;
    const id = agents.find((a: { login: string }) => a.login === login).id;
    await s.owner.patch(`/api/agents/${id}`, { disabled: true });
    const disabled = await work(login);
    expect(known).toEqual({ count: 1, params: { N: 2 ** 14, r: 8, p: 1 } });
    expect(unknown).toEqual(known);
    expect(disabled).toEqual(known);
  });
});

describe.each(DIALECTS)('password hashes (%s)', (dialect) => {
  let s: Stack;
  // One step above the suite's cost, so a hash at the old fixed parameters counts as weaker.
  beforeAll(async () => {
    s = await startStack(dialect, { config: { passwordCost: 15 } });
  });
  afterAll(() => s?.close());

  const hashOf = async (login: string) =>
    (
      await s.app.kefu.ctx.db
        .selectFrom('agents')
        .select('passwordHash')
        .where('login', '=', login)
        .executeTakeFirstOrThrow()
    ).passwordHash;

  it('stores scrypt parameters in new hashes; the default is OWASP’s N=2^17, r=8, p=1', async () => {
    await s.owner.post('/api/agents', {
      login: 'params',
      displayName: 'P',
      password: 'pass-word-1',
    });
    expect(await hashOf('params')).toMatch(/^scrypt\$N=32768,r=8,p=1\$[^$]+\$[^$]+$/);
    const strong = await hashPassword('pass-word-1');
    expect(strong).toMatch(/^scrypt\$N=131072,r=8,p=1\$/);
    expect(await verifyPassword('pass-word-1', strong)).toBe(true);
    expect(await verifyPassword('pass-word-2', strong)).toBe(false);
  });

  it('verifies an old-format hash and upgrades it at the next successful sign-in', async () => {
    await s.owner.post('/api/agents', {
      login: 'legacy',
      displayName: 'L',
      password: 'whatever-1',
    });
    const salt = randomBytes(16);
    const key = scryptSync('old-pass-1', salt, 32, { N: 16384, r: 8, p: 1 });
    const legacy = `scrypt$${salt.toString('base64')}$${key.toString('base64')}`;
    await s.app.kefu.ctx.db
      .updateTable('agents')
      .set({ passwordHash: legacy })
      .where('login', '=', 'legacy')
      .execute();
    const anon = new ApiClient(s.url, '');
    await anon.fails(anon.post('/api/auth/login', { login: 'legacy', password: 'wrong-pass' }));
    expect(await hashOf('legacy')).toBe(legacy);
    await ApiClient.login(s.url, 'legacy', 'old-pass-1');
    const upgraded = await hashOf('legacy');
    expect(upgraded).toMatch(/^scrypt\$N=32768,r=8,p=1\$/);
    await ApiClient.login(s.url, 'legacy', 'old-pass-1');
    expect(await hashOf('legacy')).toBe(upgraded);
  });
});

describe.runIf(DIALECTS.includes('postgres'))('cluster-wide limits (two nodes, Redis)', () => {
  let sim: Sim;
  let cluster: Cluster;
  let urls: string[] = [];
  let owner: ApiClient;
  let appId = '';
  let tag = '';

  beforeAll(async () => {
    sim = await createSim();
    const simUrl = await sim.listen(0);
    cluster = await startCluster({
      wechatApiBase: simUrl,
      allowedOutboundBases: [simUrl],
      trustProxy: true,
    });
    ({ urls, tag } = cluster);
    owner = await clusterOwner(cluster);
    appId = `wx${randomBytes(8).toString('hex')}`;
    const secrets = {
      appSecret: 'limit-secret-1',
      token: 'limittoken',
      encodingAesKey: 'k'.repeat(43),
    };
    const app = {
      appId,
      originalId: 'gh_limits',
      mode: 'safe',
      format: 'xml',
      ...secrets,
    } as const;
    const channel = await owner.post('/api/channels', { name: 'Limits', apiBase: simUrl, ...app });
    sim.addApp({ ...app, pushUrl: `${urls[1]}/wechat/${channel.id}` });
    await owner.post('/api/agents', {
      login: `${tag}-agent`,
      displayName: '限速',
      password: 'agent-pass-1',
      channelIds: [channel.id],
    });
  });
  afterAll(async () => {
    await cluster?.close();
    await sim?.close();
  });

  it('counts sign-in failures split across nodes together, even in parallel', async () => {
    const login = `${tag}-agent`;
    for (let i = 0; i < 8; i++)
      expect(await attempt(urls[i % 2]!, login, `w${i}`, '192.0.2.1')).toBe(401);
    const statuses = await Promise.all(
      Array.from({ length: 60 }, (_, i) => attempt(urls[i % 2]!, login, `p${i}`, '192.0.2.1')),
    );
    const counts = tally(statuses);
    expect(counts[401] ?? 0).toBeLessThanOrEqual(2);
    expect(counts[429]).toBe(60 - (counts[401] ?? 0));
    // Another address is not locked out, on either node.
    expect(await attempt(urls[1]!, login, 'agent-pass-1', '192.0.2.77')).toBe(200);
  });

  it('counts one agent’s replies on both nodes against one limit', async () => {
    const onA = await ApiClient.login(urls[0]!, `${tag}-agent`, 'agent-pass-1');
    const onB = new ApiClient(urls[1]!, onA.token);
    await sim.sendText(appId, 'o-limits', '在吗');
    const conv = await waitFor(async () =>
      (await onA.get('/api/conversations?state=queued')).items.find(
        (c: { customer: { openid: string } }) => c.customer.openid === 'o-limits',
      ),
    );
    await onB.post(`/api/conversations/${conv.id}/accept`);
    for (let i = 0; i < 20; i++) {
      // WeChat allows 5 replies per customer message: the customer keeps talking, once the
      // replies so far have reached WeChat (one still in flight would count against the new 5).
      if (i > 0 && i % 5 === 0) {
        await waitFor(() => sim.inbox(appId, 'o-limits').length >= i, 20_000, 'replies sent');
        await sim.sendText(appId, 'o-limits', `还有${i}`);
      }
      const client = i % 2 ? onA : onB;
      await client.post(`/api/conversations/${conv.id}/messages`, {
        clientId: `lim-${i}`,
        kind: 'text',
        text: `回复${i}`,
      });
    }
    await sim.sendText(appId, 'o-limits', '最后');
    const err = await onA.fails(
      onA.post(`/api/conversations/${conv.id}/messages`, {
        clientId: 'lim-x',
        kind: 'text',
        text: '多',
      }),
    );
    expect([err.status, err.body.code]).toEqual([429, 'MESSAGE_RATE_LIMITED']);
  });
});
