import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';
import { acceptAndReply } from './push-helpers';

/**
 * WeChat's custom/send has no idempotency key. A send whose answer never came back (the
 * connection reset after the request was written, a timeout) may have been delivered, so
 * Kefu must not send it again by itself: it fails visibly as DELIVERY_UNCERTAIN.
 */
describe.each(DIALECTS)('a send without an answer (%s)', (dialect) => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(dialect);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('is never resent by itself, and fails with a reason the agent can act on', async () => {
    const agent = await s.agent('uncertain');
    s.sim.injectFault({ api: 'send', errcode: -1, dropConnection: true, times: 1 });
    const sent = await acceptAndReply(s, agent, 'o-unsure', '没有回音的回复', { first: '在吗' });
    const conv = { id: sent.conversationId };
    const reply = { id: sent.messageId };
    type Msg = { id: string; delivery: string; errorReason: string | null };
    const failed = await waitFor(async () =>
      (await agent.get<{ items: Msg[] }>(`/api/conversations/${conv.id}/messages`)).items.find(
        (m) => m.id === reply.id && m.delivery === 'failed',
      ),
    );
    expect(failed.errorReason).toMatch(/DELIVERY_UNCERTAIN/);
    // No second try follows: the outbox holds nothing for it, and the emulator saw one call.
    await new Promise((r) => setTimeout(r, 2500));
    const jobs = await s.app.kefu.ctx.db
      .selectFrom('outbox')
      .select('id')
      .where('messageId', '=', reply.id)
      .execute();
    expect(jobs).toEqual([]);
    expect(
      s.sim.inbox(s.channel.appId, 'o-unsure').filter((m) => m.text === '没有回音的回复'),
    ).toHaveLength(0);
    // The agent may resend it by hand, once they have checked.
    await agent.post(`/api/messages/${reply.id}/retry`);
    await waitFor(async () =>
      (await agent.get<{ items: Msg[] }>(`/api/conversations/${conv.id}/messages`)).items.find(
        (m) => m.id === reply.id && m.delivery === 'sent',
      ),
    );
  });
});
