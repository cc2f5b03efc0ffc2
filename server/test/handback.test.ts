import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from './api-client';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';
import { queuedFor } from './push-helpers';

type Conv = { id: string; state: string; handedBackAt: number | null; sessionFrom: string | null };

const ALWAYS_OPEN = {
  timeZone: 'Asia/Shanghai',
  weekly: Array.from({ length: 7 }, () => ['00:00-24:00']),
  holidays: [],
};
const ALWAYS_CLOSED = { ...ALWAYS_OPEN, weekly: Array.from({ length: 7 }, () => []) };

const MODES = [
  { mode: 'plaintext', format: 'xml' },
  { mode: 'safe', format: 'xml' },
  { mode: 'safe', format: 'json' },
] as const;

let serial = 0;
const openid = (tag: string) => `o-hb-${tag}-${Date.now().toString(36)}-${serial++}`;

async function setRouting(s: Stack, routing: Record<string, unknown>) {
  await s.owner.put(`/api/channels/${s.channel.id}/routing`, {
    handbackPolicy: 'never',
    businessHours: null,
    entryPatterns: [],
    ...routing,
  });
}

async function conversationOf(agent: ApiClient, who: string): Promise<Conv> {
  return waitFor(
    async () =>
      (
        await agent.get<{ items: (Conv & { customer: { openid: string } })[] }>(
          '/api/conversations?state=open&limit=200',
        )
      ).items.find((c) => c.customer.openid === who),
    10_000,
    `conversation of ${who}`,
  );
}

async function customerTexts(agent: ApiClient, convId: string): Promise<string[]> {
  const page = await agent.get<{ items: { kind: string; body: { text?: string } }[] }>(
    `/api/conversations/${convId}/messages`,
  );
  return page.items.filter((m) => m.kind === 'text').map((m) => m.body.text ?? '');
}

describe.each(DIALECTS.flatMap((d) => MODES.map((m) => ({ dialect: d, ...m }))))(
  'hand-back to WeChat’s own tool ($dialect, $mode, $format)',
  ({ dialect, mode, format }) => {
    let s: Stack;
    let agent: ApiClient;
    beforeAll(async () => {
      s = await startStack(dialect, { mode, format });
      agent = await s.agent('hb');
    });
    afterAll(async () => {
      await s?.close();
    });

    it('policy "always": messages go to the tool, are still recorded; events never go', async () => {
      await setRouting(s, { handbackPolicy: 'always' });
      const who = openid('always');
      const entered = await s.sim.enterSession(s.channel.appId, who, 'product:1');
      expect(entered).toMatchObject({ acknowledged: true, body: 'success' });
      expect(entered.handedBack).toBeUndefined();
      const first = await s.sim.sendText(s.channel.appId, who, '我要找人工');
      expect(first).toMatchObject({ status: 200, acknowledged: true, handedBack: true });
      expect(first.answerError).toBeUndefined();
      expect(s.sim.withWechatTool(s.channel.appId, who)).toBeDefined();
      const conv = await conversationOf(agent, who);
      expect(conv.state).toBe('handed_back');
      expect(conv.handedBackAt).not.toBeNull();
      const second = await s.sim.sendText(s.channel.appId, who, '还在吗');
      expect(second.handedBack).toBe(true);
      expect(await customerTexts(agent, conv.id)).toEqual(['我要找人工', '还在吗']);
      // Nobody in Kefu can answer it meanwhile.
      const reply = await agent
        .post(`/api/conversations/${conv.id}/accept`)
        .catch((e: { code?: string }) => e);
      expect(reply).toMatchObject({ body: { code: 'CONV_ALREADY_TAKEN' } });
      await setRouting(s, { handbackPolicy: 'never' });
    });

    it('the 移交微信客服 action: the next message is handed back, 收回 ends it', async () => {
      const who = openid('action');
      await s.sim.sendText(s.channel.appId, who, '你好');
      const queued = await queuedFor(agent, who);
      await agent.post(`/api/conversations/${queued.id}/accept`);
      const handed = await agent.post<Conv>(`/api/conversations/${queued.id}/handback`);
      expect(handed.state).toBe('handed_back');
      const next = await s.sim.sendText(s.channel.appId, who, '转过去了吗');
      expect(next).toMatchObject({ acknowledged: true, handedBack: true });
      expect((await conversationOf(agent, who)).id).toBe(queued.id);
      expect(await customerTexts(agent, queued.id)).toEqual(['你好', '转过去了吗']);

      const audit = await s.owner.get<{ items: { action: string; targetId: string }[] }>(
        '/api/admin/audit?action=conversation.hand_back',
      );
      expect(audit.items.map((e) => e.targetId)).toContain(queued.id);

      const back = await agent.post<Conv>(`/api/conversations/${queued.id}/takeback`);
      expect(back).toMatchObject({ state: 'queued', handedBackAt: null });
      const after = await s.sim.sendText(s.channel.appId, who, '回来了');
      expect(after).toMatchObject({ acknowledged: true, body: 'success' });
      expect(after.handedBack).toBeUndefined();
      expect(s.sim.withWechatTool(s.channel.appId, who)).toBeUndefined();
      const again = await agent
        .post(`/api/conversations/${queued.id}/takeback`)
        .catch((e: { code?: string }) => e);
      expect(again).toMatchObject({ body: { code: 'CONV_NOT_HANDED_BACK' } });
    });

    it('a retried push gets the same hand-back answer, stored once', async () => {
      await setRouting(s, { handbackPolicy: 'always' });
      const who = openid('retry');
      const composed = s.sim.composeText(s.channel.appId, who, '重复的消息');
      const [a, b] = [await s.sim.deliver(composed.push), await s.sim.deliver(composed.push)];
      for (const r of [a, b]) expect(r.status).toBe(200);
      expect(a.body).not.toBe('success');
      expect(b.body).not.toBe('success');
      const conv = await conversationOf(agent, who);
      expect(await customerTexts(agent, conv.id)).toEqual(['重复的消息']);
      await setRouting(s, { handbackPolicy: 'never' });
    });

    it('a PATCH of one field leaves the push mode and format as they are', async () => {
      await s.owner.patch(`/api/channels/${s.channel.id}`, { idleMinutes: 45 });
      const ch = await s.owner.get<{ mode: string; format: string; idleMinutes: number }>(
        `/api/channels/${s.channel.id}`,
      );
      expect(ch).toMatchObject({ mode, format, idleMinutes: 45 });
      expect(
        (await s.sim.sendText(s.channel.appId, openid('patch'), '还能收到吗')).acknowledged,
      ).toBe(true);
    });

    it('policy "no agent online" and "outside hours" decide per message', async () => {
      const lone = await s.agent('only-one');
      await setRouting(s, { handbackPolicy: 'no_agent_online' });
      const who = openid('online');
      const staffed = await s.sim.sendText(s.channel.appId, who, '有人吗');
      expect(staffed.handedBack).toBeUndefined();
      await agent.put('/api/me/status', { status: 'away' });
      await lone.put('/api/me/status', { status: 'away' });
      const unstaffed = await s.sim.sendText(s.channel.appId, openid('online2'), '有人吗');
      expect(unstaffed.handedBack).toBe(true);
      await agent.put('/api/me/status', { status: 'online' });

      await setRouting(s, { handbackPolicy: 'outside_hours', businessHours: ALWAYS_CLOSED });
      expect((await s.sim.sendText(s.channel.appId, openid('closed'), '打烊了吗')).handedBack).toBe(
        true,
      );
      await setRouting(s, { handbackPolicy: 'outside_hours', businessHours: ALWAYS_OPEN });
      expect(
        (await s.sim.sendText(s.channel.appId, openid('open'), '营业中吗')).handedBack,
      ).toBeUndefined();
      await setRouting(s, { handbackPolicy: 'never' });
    });
  },
);

describe.each(DIALECTS)('routing rules and entry context (%s)', (dialect) => {
  let s: Stack;
  let agent: ApiClient;
  beforeAll(async () => {
    s = await startStack(dialect);
    agent = await s.agent('entry');
  });
  afterAll(async () => {
    await s?.close();
  });

  it('refuses malformed rules with a clear error and keeps the old ones', async () => {
    await setRouting(s, {
      handbackPolicy: 'outside_hours',
      businessHours: ALWAYS_OPEN,
      entryPatterns: [{ pattern: 'product:{id}', label: '商品 {id}' }],
    });
    const bad = await s.owner
      .put(`/api/channels/${s.channel.id}/routing`, {
        handbackPolicy: 'outside_hours',
        businessHours: { ...ALWAYS_OPEN, weekly: [['18:00-09:00']] },
        entryPatterns: [],
      })
      .catch((e: { status?: number; code?: string }) => e);
    expect(bad).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    const kept = await s.owner.get<{ entryPatterns: unknown[]; handbackPolicy: string }>(
      `/api/channels/${s.channel.id}/routing`,
    );
    expect(kept.handbackPolicy).toBe('outside_hours');
    expect(kept.entryPatterns).toHaveLength(1);
    // Agents read the patterns with their channels; they may not change them.
    const me = await agent.get<{ channels: { entryPatterns: unknown[] }[] }>('/api/me');
    expect(me.channels[0]?.entryPatterns).toHaveLength(1);
    const denied = await agent
      .put(`/api/channels/${s.channel.id}/routing`, kept)
      .catch((e: { status?: number }) => e);
    expect(denied).toMatchObject({ status: 403 });
    await setRouting(s, {});
  });

  it('a customer who enters and types after minutes keeps the entry’s SessionFrom', async () => {
    const who = openid('slow');
    await s.sim.enterSession(s.channel.appId, who, 'product:1001');
    const entered = await conversationOf(agent, who);
    expect(entered.sessionFrom).toBe('product:1001');
    // The one-minute enter window runs out while the customer is still typing.
    s.clock.advance(5 * 60_000);
    await s.app.kefu.workers.sweep();
    expect((await conversationOf(agent, who)).id).toBe(entered.id);
    await s.sim.sendText(s.channel.appId, who, '这个商品有货吗');
    const conv = await conversationOf(agent, who);
    expect(conv).toMatchObject({ id: entered.id, sessionFrom: 'product:1001', state: 'queued' });
    expect(await customerTexts(agent, conv.id)).toEqual(['这个商品有货吗']);
  });

  it('an entry nobody follows up closes once the idle rule applies', async () => {
    const who = openid('gone');
    await s.sim.enterSession(s.channel.appId, who, 'product:7');
    const entered = await conversationOf(agent, who);
    s.clock.advance(31 * 60_000);
    await s.app.kefu.workers.sweep();
    const after = await agent.get<Conv>(`/api/conversations/${entered.id}`);
    expect(after.state).toBe('closed');
  });
});
