import { createSim, type Sim } from '@kefu/wechat-sim';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from './api-client';
import { clusterOwner, startCluster, type Cluster } from './cluster-harness';
import { DIALECTS, waitFor } from './harness';
import { acceptQueued, createPlaintextChannel, pushTextTo, settled } from './security-helpers';

async function agentOf(owner: ApiClient, url: string, login: string, channelId: string) {
  await owner.post('/api/agents', {
    login,
    displayName: login,
    password: 'agent-pass-1',
    channelIds: [channelId],
  });
  const agent = await ApiClient.login(url, login, 'agent-pass-1');
  await agent.put('/api/me/status', { status: 'online' });
  return agent;
}

// The shared token cache lives in Redis: two nodes on PostgreSQL + Redis, one per workspace.
describe.runIf(DIALECTS.includes('postgres'))('cluster token cache is keyed by credentials', () => {
  let sim: Sim;
  let simUrl = '';
  let cluster: Cluster;
  let urls: string[] = [];

  beforeAll(async () => {
    sim = await createSim();
    simUrl = await sim.listen(0);
    cluster = await startCluster({ wechatApiBase: simUrl, allowedOutboundBases: [simUrl] });
    ({ urls } = cluster);
  });
  afterAll(async () => {
    await cluster?.close();
    await sim?.close();
  });

  it("a channel with another workspace's AppID and a wrong secret never uses its token", async () => {
    const tag = randomBytes(3).toString('hex');
    const appId = `wx${randomBytes(8).toString('hex')}`;
    // Workspace A on node A: the real mini program, known to the emulator.
    const ownerA = await clusterOwner(cluster, urls[0], `a${tag}`);
    const chA = await createPlaintextChannel(ownerA, {
      appId,
      appSecret: 'the-real-secret',
      apiBase: simUrl,
    });
    sim.addApp({
      appId,
      appSecret: 'the-real-secret',
      originalId: chA.originalId,
      token: chA.token,
      encodingAesKey: 'k'.repeat(43),
      mode: 'plaintext',
      format: 'json',
      pushUrl: `${urls[0]}/wechat/${chA.id}`,
    });
    const alice = await agentOf(ownerA, urls[0]!, `alice-${tag}`, chA.id);
    await sim.sendText(appId, 'o-victim', '你好');
    const convA = await acceptQueued(alice, 'o-victim');
    const replyA = await alice.post(`/api/conversations/${convA}/messages`, {
      clientId: 'a-1',
      kind: 'text',
      text: '来自 A 的回复',
    });
    expect((await settled(alice, convA, replyA.id)).delivery).toBe('sent');
    const tokenFetches = sim.stats().stable_token;

    // Workspace B on node B types A's AppID with a secret of its own and forges a customer
    // push (B controls its own channel's push Token) from A's customer's openid.
    const ownerB = await clusterOwner(cluster, urls[1], `b${tag}`);
    const chB = await createPlaintextChannel(ownerB, {
      appId,
      appSecret: 'a-guessed-secret',
      apiBase: simUrl,
    });
    const mallory = await agentOf(ownerB, urls[1]!, `mallory-${tag}`, chB.id);
    await pushTextTo(urls[1]!, chB, 'o-victim', '伪造的消息');
    const convB = await acceptQueued(mallory, 'o-victim');
    const replyB = await mallory.post(`/api/conversations/${convB}/messages`, {
      clientId: 'b-1',
      kind: 'text',
      text: '来自 B 的回复',
    });
    const failed = await settled(mallory, convB, replyB.id);
    expect(failed.delivery).toBe('failed');
    expect(failed.errorCode).toBe(40001);
    expect(failed.errorReason).toMatch(/AppSecret/);
    // B had to ask WeChat with its own secret (refused) instead of reading A's token.
    expect(sim.stats().stable_token).toBeGreaterThan(tokenFetches);

    // The emulator's control API: A's customer received A's reply only.
    const inbox = await waitFor(async () => {
      const res = await fetch(`${simUrl}/sim/api/inbox?appId=${appId}&openid=o-victim`);
      return ((await res.json()) as { items: { text?: string }[] }).items;
    });
    expect(inbox.map((m) => m.text)).toEqual(['来自 A 的回复']);
  });
});
