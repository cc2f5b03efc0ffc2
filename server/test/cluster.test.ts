import { createSim, type Sim } from '@kefu/wechat-sim';
import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from './api-client';
import { clusterOwner, startCluster, type Cluster } from './cluster-harness';
import { DIALECTS, waitFor } from './harness';

// Cluster mode needs PostgreSQL; it runs whenever the postgres dialect is being tested.
describe.runIf(DIALECTS.includes('postgres'))('cluster: two nodes on PostgreSQL + Redis', () => {
  let sim: Sim;
  let cluster: Cluster;
  let nodes: FastifyInstance[] = [];
  let urls: string[] = [];
  let owner: ApiClient;
  let appId = '';
  let channelId = '';

  beforeAll(async () => {
    sim = await createSim();
    const simUrl = await sim.listen(0);
    cluster = await startCluster({ wechatApiBase: simUrl, allowedOutboundBases: [simUrl] });
    ({ nodes, urls } = cluster);
    owner = await clusterOwner(cluster);
    appId = `wx${randomBytes(8).toString('hex')}`;
    const secrets = {
      appSecret: 'cluster-secret-1',
      token: 'clustertoken',
      encodingAesKey: 'k'.repeat(43),
    };
    const channel = await owner.post<{ id: string }>('/api/channels', {
      name: 'Cluster app',
      appId,
      originalId: 'gh_cluster',
      mode: 'safe',
      format: 'xml',
      apiBase: simUrl,
      ...secrets,
    });
    channelId = channel.id;
    // WeChat pushes to node B; agents work on node A.
    sim.addApp({
      appId,
      originalId: 'gh_cluster',
      mode: 'safe',
      format: 'xml',
      pushUrl: `${urls[1]}/wechat/${channel.id}`,
      ...secrets,
    });
    await owner.post('/api/agents', {
      login: `${cluster.tag}-agent`,
      displayName: '集群客服',
      password: 'agent-pass-1',
      channelIds: [channel.id],
    });
  });
  afterAll(async () => {
    await cluster?.close();
    await sim?.close();
  });

  it('an event committed on one node reaches a socket on the other; replies are sent once; one shared token', async () => {
    const login = (await owner.get('/api/agents')).items.find(
      (a: any) => a.displayName === '集群客服',
    ).login;
    const onA = await ApiClient.login(urls[0]!, login, 'agent-pass-1');
    const onB = new ApiClient(urls[1]!, onA.token);
    await onA.put('/api/me/status', { status: 'online' });
    const rt = await onA.socket();
    await sim.sendText(appId, 'o-cluster', '跨节点的消息');
    const { conversation } = await rt.event('conversation.queued');
    await onB.post(`/api/conversations/${conversation.id}/accept`);
    await rt.event('conversation.assigned', (d) => d.conversation.id === conversation.id);
    for (let i = 0; i < 6; i++) {
      const client = i % 2 ? onA : onB;
      if (i === 5) await sim.sendText(appId, 'o-cluster', '继续');
      await client.post(`/api/conversations/${conversation.id}/messages`, {
        clientId: `cl-${i}`,
        kind: 'text',
        text: `回复${i}`,
      });
    }
    await waitFor(() => sim.inbox(appId, 'o-cluster').length === 6, 15_000, 'six replies');
    await new Promise((r) => setTimeout(r, 300));
    const texts = sim.inbox(appId, 'o-cluster').map((m) => m.text);
    expect(new Set(texts).size).toBe(6);
    expect(sim.stats().stable_token).toBe(1);
    // Presence is shared: a socket on node A keeps the agent present for node B's sweep.
    expect(await nodes[1]!.kefu.presence.isConnected(onA.agentId)).toBe(true);
    await rt.close();
  });

  it("a channel edited on one node is dropped from the other node's cache at once", async () => {
    const cacheB = nodes[1]!.kefu.ctx.channels;
    expect((await cacheB.get(channelId)).secrets.token).toBe('clustertoken');
    expect(cacheB.holds(channelId)).toBe(true);
    await owner.patch(`/api/channels/${channelId}`, { token: 'clustertoken2' });
    // Not by its TTL: an entry is held until dropped, expired or not, and nothing read it since.
    await waitFor(() => !cacheB.holds(channelId), 10_000, "node B's cache to drop the channel");
    expect((await cacheB.get(channelId)).secrets.token).toBe('clustertoken2');
    await owner.patch(`/api/channels/${channelId}`, { token: 'clustertoken' });
  });
});
