import { createSim, type Sim } from '@kefu/wechat-sim';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, type RealtimeClient } from './api-client';
import { clusterOwner, startCluster, type Cluster } from './cluster-harness';
import { DIALECTS, waitFor } from './harness';

/** A free loopback port (the private Redis must come back on the same one). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/** A Redis of this test's own, so it can be killed and restarted without touching others'. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(() => out.includes('Ready to accept connections'), 20_000, 'redis to start');
  return child;
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}

describe.runIf(DIALECTS.includes('postgres'))('Redis goes away and comes back', () => {
  let sim: Sim;
  let redis: ChildProcess;
  let port = 0;
  let cluster: Cluster;
  let owner: ApiClient;
  let channelId = '';
  let agentOnA: ApiClient;
  let rt: RealtimeClient;
  let appId = '';

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedis(port);
    sim = await createSim();
    const simUrl = await sim.listen(0);
    cluster = await startCluster({
      redisUrl: `redis://127.0.0.1:${port}`,
      wechatApiBase: simUrl,
      allowedOutboundBases: [simUrl],
    });
    owner = await clusterOwner(cluster);
    appId = `wxredis${cluster.tag}`;
    const app = {
      appId,
      originalId: `gh_redis${cluster.tag}`,
      mode: 'plaintext',
      format: 'xml',
      appSecret: 'redis-secret-1',
      token: 'redistoken',
      encodingAesKey: 'k'.repeat(43),
    } as const;
    const channel = await owner.post('/api/channels', { name: 'Redis', apiBase: simUrl, ...app });
    channelId = channel.id;
    // WeChat pushes to node B; the agent's console is on node A.
    sim.addApp({ ...app, pushUrl: `${cluster.urls[1]}/wechat/${channel.id}` });
    await owner.post('/api/agents', {
      login: `${cluster.tag}-agent`,
      displayName: '看门',
      password: 'agent-pass-1',
      channelIds: [channel.id],
    });
    agentOnA = await ApiClient.login(cluster.urls[0]!, `${cluster.tag}-agent`, 'agent-pass-1');
    await agentOnA.put('/api/me/status', { status: 'online' });
    rt = await agentOnA.socket();
  });
  afterAll(async () => {
    await rt?.close();
    await cluster?.close();
    await sim?.close();
    if (redis) await stopRedis(redis);
  });

  /** A customer writes through node B; resolves once node A's socket has the message. */
  async function arrivesOnA(openid: string, text: string): Promise<void> {
    const res = await sim.sendText(appId, openid, text);
    expect(res.acknowledged).toBe(true);
    await rt.event('message.created', (d) => d.message?.body?.text === text, 30_000);
  }

  it('keeps serving with Redis down, then uses it again once it is back', async () => {
    await arrivesOnA('o-redis-1', 'Redis 在');
    await stopRedis(redis);
    // Pushes still commit on node B, and node A's safety poll still delivers them.
    await arrivesOnA('o-redis-2', 'Redis 不在');
    await agentOnA.put('/api/me/status', { status: 'away' });
    await agentOnA.put('/api/me/status', { status: 'online' });
    redis = await startRedis(port);
    await arrivesOnA('o-redis-3', 'Redis 回来了');
    // Both nodes lived through it, and the shared limiter and presence work again.
    for (const url of cluster.urls) expect((await fetch(`${url}/api/health`)).ok).toBe(true);
    await waitFor(
      async () => cluster.nodes[1]!.kefu.presence.isConnected(agentOnA.agentId),
      30_000,
      'presence shared through Redis again',
    );
  });

  /** Both nodes hear of the other's events this way (`push`: Redis; `polling`: the event log). */
  async function mode(want: 'push' | 'polling'): Promise<void> {
    await waitFor(
      () => cluster.nodes.every((n) => n.kefu.workers.realtimeMode === want),
      30_000,
      `both nodes in ${want} mode`,
    );
  }

  /** The texts of the message.created events a socket received, in order. */
  const created = (c: RealtimeClient) =>
    c
      .events()
      .filter((e) => e.name === 'message.created')
      .map((e) => String(e.data.message?.body?.text ?? ''));

  it('events cross nodes by polling during the outage and by push after it, none lost or doubled', async () => {
    await mode('push');
    // A second agent, whose console is on node B.
    await owner.post('/api/agents', {
      login: `${cluster.tag}-agent-b`,
      displayName: '另一台',
      password: 'agent-pass-1',
      channelIds: [channelId],
    });
    const agentOnB = await ApiClient.login(
      cluster.urls[1]!,
      `${cluster.tag}-agent-b`,
      'agent-pass-1',
    );
    await agentOnB.put('/api/me/status', { status: 'online' });
    await agentOnA.put('/api/me/status', { status: 'online' });
    const rtA = await agentOnA.socket();
    const rtB = await agentOnB.socket();
    const openid = 'o-redis-flow';
    const expected: string[] = [];
    /** A customer message pushed to node B; both sockets must get it (A's from the other node). */
    const push = async (text: string) => {
      expect((await sim.sendText(appId, openid, text)).acknowledged).toBe(true);
      expected.push(text);
      for (const c of [rtA, rtB])
        await c.event('message.created', (d) => d.message?.body?.text === text, 30_000);
    };
    try {
      await push('推送 1');
      await stopRedis(redis);
      await mode('polling');
      for (let i = 1; i <= 3; i++) await push(`轮询 ${i}`);
      // Node A's own events reach node B's socket too: the agent on A accepts and replies.
      const conv = await waitFor(
        async () =>
          (await agentOnA.get('/api/conversations?state=queued')).items.find(
            (c: any) => c.customer.openid === openid,
          ),
        30_000,
        'the conversation queued',
      );
      await agentOnA.post(`/api/conversations/${conv.id}/accept`);
      await agentOnA.post(`/api/conversations/${conv.id}/messages`, {
        clientId: `redis-down-${cluster.tag}`,
        kind: 'text',
        text: '宕机时的回复',
      });
      expected.push('宕机时的回复');
      await rtB.event('conversation.assigned', (d) => d.conversation?.id === conv.id, 30_000);
      await rtB.event('message.created', (d) => d.message?.body?.text === '宕机时的回复', 30_000);
      redis = await startRedis(port);
      await mode('push');
      for (let i = 1; i <= 3; i++) await push(`恢复 ${i}`);
      for (const c of [rtA, rtB]) {
        // Each event once, in sequence order, and nothing missing.
        const seqs = c.events().map((e) => e.seq);
        expect(seqs).toEqual([...new Set(seqs)].sort((x, y) => x - y));
        expect(created(c).filter((t) => expected.includes(t))).toEqual(expected);
      }
    } finally {
      await rtA.close();
      await rtB.close();
    }
  }, 120_000);
});
