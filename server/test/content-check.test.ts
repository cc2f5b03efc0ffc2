import type { AuditPage } from '@kefu/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from './api-client';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';

/**
 * 发送前内容安全检测 over real HTTP: Kefu → the emulator's /wxa/msg_sec_check (v2) with the
 * channel's access token, before anything is stored or sent.
 */
describe.each(DIALECTS)('content check before sending (%s)', (dialect) => {
  let s: Stack;
  let agent: ApiClient;
  let n = 0;
  beforeAll(async () => {
    s = await startStack(dialect);
    agent = await s.agent('checker');
    s.sim.security.setContentRules(s.channel.appId, { risky: ['赌博'], review: ['加微信'] });
  });
  afterAll(() => s?.close());

  const setCheck = (contentCheck: boolean, contentCheckFailClosed = false) =>
    s.owner.patch(`/api/channels/${s.channel.id}`, {
      contentCheck,
      contentCheckFailClosed,
      mode: 'safe',
    });
  /** A customer writes, the agent accepts: an active conversation with an open window. */
  async function conversation(): Promise<{ id: string; openid: string }> {
    const openid = `o-check-${++n}`;
    await s.sim.sendText(s.channel.appId, openid, '请问发货了吗');
    const conv = await waitFor(async () =>
      (await agent.get('/api/conversations?state=queued')).items.find(
        (c: any) => c.customer.openid === openid,
      ),
    );
    await agent.post(`/api/conversations/${conv.id}/accept`);
    return { id: conv.id, openid };
  }
  const messagesOut = async (id: string) =>
    (await agent.get(`/api/conversations/${id}/messages`)).items.filter(
      (m: any) => m.direction === 'out',
    );
  const send = (id: string, text: string) =>
    agent.post(`/api/conversations/${id}/messages`, {
      clientId: `c-${Math.random()}`,
      kind: 'text',
      text,
    });

  it('refuses risky text before storing it; the platform never sees a send', async () => {
    await setCheck(true);
    const conv = await conversation();
    const err = await agent.fails(send(conv.id, '来玩网络赌博吧'));
    expect(err.status).toBe(422);
    expect(err.body.code).toBe('MESSAGE_CONTENT_RISKY');
    expect(err.body.details).toEqual({ label: 20006 });
    expect(await messagesOut(conv.id)).toEqual([]);
    expect(s.sim.sends(s.channel.appId).filter((x) => x.touser === conv.openid)).toEqual([]);
    const call = s.sim.security.calls(s.channel.appId).at(-1);
    expect(call).toMatchObject({ openid: conv.openid, version: 2, suggest: 'risky' });
    const audit = await s.owner.get<AuditPage>(
      `/api/admin/audit?action=message.content_blocked&q=${conv.id}`,
    );
    expect(audit.items[0]).toMatchObject({
      actorId: agent.agentId,
      details: { label: 20006, text: '来玩网络赌博吧' },
    });
  });

  it('sends text that passes, and sends (but audits) text WeChat wants reviewed', async () => {
    await setCheck(true);
    const conv = await conversation();
    await send(conv.id, '已经发货了，请留意物流');
    await send(conv.id, '可以加微信聊');
    await waitFor(
      () => s.sim.sends(s.channel.appId).filter((x) => x.touser === conv.openid).length === 2,
    );
    const calls = s.sim.security.calls(s.channel.appId).filter((c) => c.openid === conv.openid);
    expect(calls.map((c) => c.suggest)).toEqual(['pass', 'review']);
    const review = await s.owner.get<AuditPage>(
      `/api/admin/audit?action=message.content_review&q=${conv.id}`,
    );
    expect(review.items).toHaveLength(1);
  });

  it('with the check off, makes no call at all', async () => {
    await setCheck(false);
    const conv = await conversation();
    const before = s.sim.security.calls().length;
    await send(conv.id, '来玩网络赌博吧');
    await waitFor(
      () => s.sim.sends(s.channel.appId).filter((x) => x.touser === conv.openid).length === 1,
    );
    expect(s.sim.security.calls().length).toBe(before);
  });

  it('when the check fails: sends by default, refuses when the channel fails closed', async () => {
    const conv = await conversation();
    await setCheck(true, false);
    s.sim.security.failNext({ errcode: -1 });
    await send(conv.id, '系统繁忙也要回复');
    await waitFor(
      () => s.sim.sends(s.channel.appId).filter((x) => x.touser === conv.openid).length === 1,
    );
    await setCheck(true, true);
    s.sim.security.failNext({ dropConnection: true });
    const err = await agent.fails(send(conv.id, '这条不该发出'));
    expect(err.status).toBe(503);
    expect(err.body.code).toBe('MESSAGE_CONTENT_CHECK_UNAVAILABLE');
    expect((await messagesOut(conv.id)).map((m: any) => m.body.text)).toEqual(['系统繁忙也要回复']);
    // A customer not seen for 2 hours cannot be checked (61010): fail closed refuses too.
    s.clock.advance(2 * 3600_000 + 1000);
    const stale = await agent.fails(send(conv.id, '两小时后'));
    expect(stale.body.details).toEqual({ errcode: 61010 });
    await setCheck(false);
  });
});
