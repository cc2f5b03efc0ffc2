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
    const owner = await clusterOwner(cluster);
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
});
