import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { vapidSubject } from '../src/modules/notifications/web-push';
import { currentSeq } from '../src/modules/realtime/event-log';
import type { ApiClient } from './api-client';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';
import { startPushService, startRobotFake, subscriptionKeys } from './reminder-fakes';

/**
 * Reminders that reach an agent whose console is closed (issue 8): over real HTTP to a local
 * WeCom group-robot fake (KEFU_WECOM_ROBOT_BASE) and a local Web Push service, with the WeChat
 * emulator pushing the customers' messages.
 */
describe.each(DIALECTS)('reminders by phone routes (%s)', (dialect) => {
  let s: Stack;
  let robot: Awaited<ReturnType<typeof startRobotFake>>;
  let push: Awaited<ReturnType<typeof startPushService>>;
  const hook = (key: string) => `${robot.origin}/cgi-bin/webhook/send?key=${key}`;

  beforeAll(async () => {
    robot = await startRobotFake();
    push = await startPushService();
    s = await startStack(dialect, {
      config: {
        // Push endpoints must be public https; the operator allows this loopback one.
        allowedOutboundBases: [push.origin],
        wecomRobotBase: robot.origin,
        // An http public URL used to make every Web Push fail (the VAPID subject).
        publicUrl: 'http://kefu.example.test:3000',
      },
    });
  });
  afterAll(async () => {
    await s?.close();
    await robot?.close();
    await push?.close();
  });

  /** An online agent with a robot and a push subscription whose console was opened, then closed. */
  async function closedConsoleAgent(name: string, key: string): Promise<ApiClient> {
    const a = await s.agent(name);
    await a.post('/api/push/subscriptions', {
      endpoint: `${push.origin}/push/${name}`,
      keys: subscriptionKeys(),
    });
    await a.put('/api/me/reminders/wecom-robot', { webhook: hook(key), mention: `u-${name}` });
    const rt = await a.socket();
    await rt.close();
    await waitFor(async () => !(await s.app.kefu.presence.isConnected(a.agentId)));
    await s.app.kefu.presence.flush();
    return a;
  }

  const robotTexts = (key: string) =>
    robot.calls.filter((c) => c.key === key).map((c) => c.body.text.content);
  const pushes = (name: string) => push.received.filter((p) => p.path === `/push/${name}`);

  it('reminds by robot and Web Push for a new customer and for a message in an own conversation', async () => {
    const a = await closedConsoleAgent('closed1', 'key-closed-0001');
    // Far beyond any grace period: under the default rule the agent stays online.
    s.clock.advance(5 * 3600_000);
    await s.app.kefu.workers.sweep();
    expect((await a.get('/api/me')).agent.status).toBe('online');

    await s.sim.sendText(s.channel.appId, 'o-rem-1', '有人吗');
    await waitFor(() => robotTexts('key-closed-0001').length > 0, 10_000, 'a robot text');
    const first = robot.calls.find((c) => c.key === 'key-closed-0001')!;
    expect(first.path).toBe('/cgi-bin/webhook/send');
    expect(first.body.msgtype).toBe('text');
    expect(first.body.text.content).toContain('新的待接入会话');
    expect(first.body.text.content).toContain('有人吗');
    expect(first.body.text.mentioned_list).toEqual(['u-closed1']);
    await waitFor(() => pushes('closed1').length > 0, 10_000, 'a web push');
    expect(pushes('closed1')[0]!.headers.authorization).toMatch(/^vapid /);

    const conv = s.app.kefu.reminders.log.find(
      (r) => r.agentId === a.agentId && r.title === '新的待接入会话',
    )!;
    expect(conv.routes.wecom_robot?.ok).toBe(true);
    expect(conv.routes.web_push?.ok).toBe(true);
    await a.post(`/api/conversations/${conv.conversationId}/accept`);
    const pushesBefore = pushes('closed1').length;
    await s.sim.sendText(s.channel.appId, 'o-rem-1', '订单 8812 什么时候发货');
    await waitFor(
      () => robotTexts('key-closed-0001').some((t) => t.includes('订单 8812')),
      10_000,
      'a message reminder',
    );
    expect(robotTexts('key-closed-0001').find((t) => t.includes('订单 8812'))).toContain(
      '客户发来新消息',
    );
    await waitFor(() => pushes('closed1').length > pushesBefore, 10_000, 'a message push');
    const routes = await a.get('/api/me/reminders');
    expect(routes.wecomRobot.lastOkAt).toBeGreaterThan(0);
    expect(routes.webPush.lastOkAt).toBeGreaterThan(0);
    expect(routes.presence.rule).toBe('until_logout');
  });

  it('a customer writing into an idle conversation of the agent reminds them', async () => {
    const a = await closedConsoleAgent('idle1', 'key-idle-00001');
    await s.sim.sendText(s.channel.appId, 'o-rem-idle', '先问一句');
    const queued = await waitFor(() =>
      s.app.kefu.reminders.log.find((r) => r.agentId === a.agentId && r.body.includes('先问一句')),
    );
    await a.post(`/api/conversations/${queued.conversationId}/accept`);
    s.clock.advance(31 * 60_000);
    await s.app.kefu.workers.sweep();
    expect((await a.get(`/api/conversations/${queued.conversationId}`)).state).toBe('idle');
    await s.sim.sendText(s.channel.appId, 'o-rem-idle', '还在吗');
    // Back in the queue (preferring this agent): the waiting-conversation reminder reaches them.
    await waitFor(
      () => robotTexts('key-idle-00001').some((t) => t.includes('还在吗')),
      10_000,
      'a reminder for the idle conversation',
    );
  });

  it('sends nothing to an agent who is away', async () => {
    const away = await closedConsoleAgent('away1', 'key-away-00001');
    await away.put('/api/me/status', { status: 'away' });
    const watcher = await closedConsoleAgent('watch1', 'key-watch-0001');
    await s.sim.sendText(s.channel.appId, 'o-rem-2', '你好');
    // The other agent's reminder for the same event shows the event was processed.
    await waitFor(() => robotTexts('key-watch-0001').some((t) => t.includes('你好')));
    await s.app.kefu.workers.idle();
    expect(robotTexts('key-away-00001')).toEqual([]);
    expect(pushes('away1')).toEqual([]);
    expect(watcher.agentId).not.toBe(away.agentId);
  });

  it('sends test reminders and reports a robot that answers an error', async () => {
    const a = await s.agent('tester');
    await a.post('/api/push/subscriptions', {
      endpoint: `${push.origin}/push/tester`,
      keys: subscriptionKeys(),
    });
    expect(await a.post('/api/me/reminders/test', { route: 'wecom_robot' })).toEqual({
      ok: false,
      detail: 'no WeCom robot is set',
    });
    const set = await a.put('/api/me/reminders/wecom-robot', {
      webhook: 'key-test-000001',
      mention: '13800138000',
    });
    expect(set.wecomRobot).toMatchObject({ keyHint: '…0001', mention: '13800138000' });
    const ok = await a.post('/api/me/reminders/test', { route: 'wecom_robot' });
    expect(ok.ok).toBe(true);
    const call = robot.calls.find((c) => c.key === 'key-test-000001')!;
    expect(call.body.text.content).toContain('测试提醒');
    expect(call.body.text.mentioned_mobile_list).toEqual(['13800138000']);
    const webPush = await a.post('/api/me/reminders/test', { route: 'web_push' });
    expect(webPush.ok).toBe(true);
    expect(pushes('tester')).toHaveLength(1);

    robot.setMode('errcode', 93000);
    try {
      const bad = await a.post('/api/me/reminders/test', { route: 'wecom_robot' });
      expect(bad.ok).toBe(false);
      expect(bad.detail).toContain('93000');
    } finally {
      robot.setMode('ok');
    }
    const routes = await a.get('/api/me/reminders');
    expect(routes.wecomRobot.lastError).toContain('93000');
    // The sealed key never leaves the server, and is not stored in the clear.
    const row = await s.app.kefu.ctx.db
      .selectFrom('reminderRoutes')
      .select('configEnc')
      .where('agentId', '=', a.agentId)
      .where('route', '=', 'wecom_robot')
      .executeTakeFirstOrThrow();
    expect(row.configEnc).not.toContain('key-test-000001');
    expect(JSON.stringify(routes)).not.toContain('key-test-000001');
    const removed = await a.request<any>('DELETE', '/api/me/reminders/wecom-robot');
    expect(removed.wecomRobot).toBeNull();
    expect((await a.post('/api/me/reminders/test', { route: 'wecom_robot' })).ok).toBe(false);
  });

  it("keeps to WeCom's 20 messages a minute per robot", async () => {
    const a = await s.agent('limited');
    await a.put('/api/me/reminders/wecom-robot', { webhook: 'key-limit-00001' });
    const results = [];
    for (let i = 0; i < 21; i++)
      results.push(await a.post('/api/me/reminders/test', { route: 'wecom_robot' }));
    expect(results.slice(0, 20).every((r) => r.ok)).toBe(true);
    expect(results[20]).toEqual({
      ok: false,
      detail: 'rate limited: WeCom allows a robot 20 messages a minute',
    });
    expect(robot.calls.filter((c) => c.key === 'key-limit-00001')).toHaveLength(20);
  });

  it('refuses a webhook on another host or path and stores nothing', async () => {
    const a = await s.agent('hostile');
    for (const webhook of [
      'http://169.254.169.254/cgi-bin/webhook/send?key=abcdefgh123',
      `https://qyapi.weixin.qq.com.evil.test/cgi-bin/webhook/send?key=abcdefgh123`,
      `${robot.origin}/cgi-bin/other?key=abcdefgh123`,
      `${robot.origin}/cgi-bin/webhook/send?key=abcdefgh123&next=http://x`,
      `${robot.origin.replace('http://', 'http://user:pw@')}/cgi-bin/webhook/send?key=abcdefgh123`,
      'not a url at all',
    ]) {
      const err = await a.fails(a.put('/api/me/reminders/wecom-robot', { webhook }));
      expect(err.status).toBe(400);
      expect(err.body.code).toBe('REMINDER_WEBHOOK_REFUSED');
      expect(err.body.details?.field).toBe('webhook');
    }
    const bad = await a.fails(
      a.put('/api/me/reminders/wecom-robot', { webhook: 'key-ok-0000001', mention: '<script>' }),
    );
    expect(bad.body.code).toBe('VALIDATION_FAILED');
    expect((await a.get('/api/me/reminders')).wecomRobot).toBeNull();
    const rows = await s.app.kefu.ctx.db
      .selectFrom('reminderRoutes')
      .selectAll()
      .where('agentId', '=', a.agentId)
      .execute();
    expect(rows).toEqual([]);
  });

  it('a robot that hangs is reported and does not hold up ingest', async () => {
    const a = await closedConsoleAgent('hang1', 'key-hang-00001');
    robot.setMode('hang');
    try {
      const t0 = Date.now();
      await s.sim.sendText(s.channel.appId, 'o-rem-3', '机器人挂了也要收到');
      expect(Date.now() - t0).toBeLessThan(4000);
      // The message is stored and listed for the agent while the robot call still hangs.
      const list = await a.get('/api/conversations?state=queued');
      expect(JSON.stringify(list)).toContain('机器人挂了也要收到');
      await waitFor(
        () =>
          s.app.kefu.reminders.log.find(
            (r) => r.agentId === a.agentId && r.routes.wecom_robot !== undefined,
          ),
        15_000,
        'the robot attempt to end',
      );
      const routes = await a.get('/api/me/reminders');
      expect(routes.wecomRobot.lastError).toContain('5 s');
    } finally {
      robot.setMode('ok');
    }
  });

  it("with the 'grace' rule the closed console goes offline and gets nothing", async () => {
    await s.owner.put('/api/settings', { presenceRule: 'grace' });
    expect((await s.owner.get('/api/settings')).presenceRule).toBe('grace');
    try {
      const a = await closedConsoleAgent('grace1', 'key-grace-0001');
      await waitFor(async () => {
        const row = await s.app.kefu.ctx.db
          .selectFrom('agents')
          .select('disconnectedAt')
          .where('id', '=', a.agentId)
          .executeTakeFirstOrThrow();
        return row.disconnectedAt != null;
      });
      s.clock.advance(3601_000);
      await s.app.kefu.workers.sweep();
      expect((await a.get('/api/me')).agent.status).toBe('offline');
      await s.sim.sendText(s.channel.appId, 'o-rem-4', '有人在吗');
      await waitFor(async () =>
        (await s.owner.get('/api/conversations?state=queued')).items.some(
          (c: any) => c.customer.openid === 'o-rem-4',
        ),
      );
      // Once this node's reminders have gone through every event, nothing more will be sent.
      const seq = await currentSeq(s.app.kefu.ctx.db, s.workspaceId);
      await waitFor(
        () => s.app.kefu.reminders.seenUpTo(s.workspaceId) >= seq,
        10_000,
        'the events processed',
      );
      await s.app.kefu.workers.idle();
      expect(robotTexts('key-grace-0001')).toEqual([]);
      expect(pushes('grace1')).toEqual([]);
    } finally {
      await s.owner.put('/api/settings', { presenceRule: 'until_logout' });
    }
  });
});

describe('the VAPID contact', () => {
  it('is always one web-push accepts, whatever the public URL', () => {
    expect(vapidSubject({ publicUrl: 'http://kefu.example.test:3000' })).toBe(
      'mailto:kefu@kefu.example.test',
    );
    expect(vapidSubject({ publicUrl: 'http://127.0.0.1:3000' })).toBe('mailto:kefu@127.0.0.1');
    expect(vapidSubject({ publicUrl: 'http://localhost:3000' })).toBe('mailto:kefu@kefu.invalid');
    expect(vapidSubject({ publicUrl: 'https://kefu.example.com/x' })).toBe(
      'https://kefu.example.com',
    );
    expect(vapidSubject({})).toBe('mailto:kefu@kefu.invalid');
    expect(vapidSubject({ vapidSubject: 'mailto:ops@shop.cn', publicUrl: 'http://x.cn' })).toBe(
      'mailto:ops@shop.cn',
    );
    expect(() => loadConfig({ KEFU_VAPID_SUBJECT: 'http://shop.cn' }, { secretKey: 'x' })).toThrow(
      /vapidSubject/,
    );
  });
});
