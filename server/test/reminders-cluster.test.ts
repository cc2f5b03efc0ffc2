import { createSim, type Sim } from '@kefu/wechat-sim';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentSeq } from '../src/modules/realtime/event-log';
import { ApiClient } from './api-client';
import { clusterOwner, startCluster, type Cluster } from './cluster-harness';
import { DIALECTS, waitFor } from './harness';
import { startRobotFake } from './reminder-fakes';

// Cluster mode needs PostgreSQL; it runs whenever the postgres dialect is being tested.
describe.runIf(DIALECTS.includes('postgres'))('reminders in a cluster', () => {
  let sim: Sim;
  let cluster: Cluster;
  let robot: Awaited<ReturnType<typeof startRobotFake>>;
  let appId = '';
  let agent: ApiClient;

  beforeAll(async () => {
    sim = await createSim();
    robot = await startRobotFake();
    const simUrl = await sim.listen(0);
    cluster = await startCluster({
      wechatApiBase: simUrl,
      allowedOutboundBases: [simUrl],
      wecomRobotBase: robot.origin,
    });
    const owner = await clusterOwner(cluster);
    appId = `wx${randomBytes(8).toString('hex')}`;
    const secrets = {
      appSecret: 'rem-secret-1',
      token: 'remtoken',
      encodingAesKey: 'r'.repeat(43),
    };
    const channel = await owner.post<{ id: string }>('/api/channels', {
      name: 'Reminder app',
      appId,
      originalId: 'gh_remind',
      mode: 'safe',
      format: 'xml',
      apiBase: simUrl,
      ...secrets,
    });
    sim.addApp({
      appId,
      originalId: 'gh_remind',
      mode: 'safe',
      format: 'xml',
      pushUrl: `${cluster.urls[1]}/wechat/${channel.id}`,
      ...secrets,
    });
    await owner.post('/api/agents', {
      login: `${cluster.tag}-rem`,
      displayName: '提醒客服',
      password: 'agent-pass-1',
      channelIds: [channel.id],
    });
    agent = await ApiClient.login(cluster.urls[0]!, `${cluster.tag}-rem`, 'agent-pass-1');
    await agent.put('/api/me/status', { status: 'online' });
    await agent.put('/api/me/reminders/wecom-robot', {
      webhook: 'key-cluster-0001',
      mention: 'u1',
    });
  });
  afterAll(async () => {
    await cluster?.close();
    await sim?.close();
    await robot?.close();
  });

  const texts = () => robot.calls.filter((c) => c.key === 'key-cluster-0001');

  it('a console open on the other node keeps the phone quiet; closed, each event reminds once', async () => {
    // The console is open on node B; the push arrives on node B too, and both nodes read events.
    const onB = new ApiClient(cluster.urls[1]!, agent.token);
    const rt = await onB.socket();
    await sim.sendText(appId, 'o-cl-1', '第一位');
    await waitFor(async () =>
      (await agent.get('/api/conversations?state=queued')).items.some(
        (c: any) => c.customer.openid === 'o-cl-1',
      ),
    );
    // Both nodes have gone through every event of the workspace: none reminded anyone.
    const db = cluster.nodes[0]!.kefu.ctx.db;
    const ws = await db.selectFrom('workspaces').select('id').executeTakeFirstOrThrow();
    const seq = await currentSeq(db, ws.id);
    await waitFor(
      () => cluster.nodes.every((n) => n.kefu.reminders.seenUpTo(ws.id) >= seq),
      10_000,
      'the events processed on both nodes',
    );
    for (const n of cluster.nodes) await n.kefu.workers.idle();
    expect(texts()).toEqual([]);

    await rt.close();
    await waitFor(async () => {
      for (const n of cluster.nodes)
        if (await n.kefu.presence.isConnected(agent.agentId)) return false;
      return true;
    });
    await sim.sendText(appId, 'o-cl-2', '第二位');
    await waitFor(() => texts().length > 0, 10_000, 'a robot text');
    // Give the other node every chance to send it again.
    await new Promise((r) => setTimeout(r, 500));
    for (const n of cluster.nodes) await n.kefu.workers.idle();
    const forSecond = texts().filter((c) => c.body.text.content.includes('第二位'));
    expect(forSecond).toHaveLength(1);
    expect(texts()).toHaveLength(1);
  });
});
