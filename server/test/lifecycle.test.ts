import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, type ApiClient } from './api-client';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';

// Races on the conversation lifecycle. Each round starts a fresh conversation and fires the two
// contenders at once; whoever wins, exactly one transition happened and the row, its context
// lines and its events agree. Rounds repeat because a race may go either way.
const ROUNDS = 6;

async function queuedFor(agent: ApiClient, openid: string): Promise<{ id: string }> {
  return waitFor(
    async () =>
      (await agent.get('/api/conversations?state=queued')).items.find(
        (c: any) => c.customer.openid === openid,
      ),
    15_000,
    `queued ${openid}`,
  );
}

async function row(s: Stack, id: string) {
  return s.app.kefu.ctx.db
    .selectFrom('conversations')
    .select(['id', 'state', 'agentId', 'customerId'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

/** The conversation's messages in seq order: context lines as `#event`, customer texts as-is. */
async function timeline(s: Stack, id: string): Promise<string[]> {
  const rows = await s.app.kefu.ctx.db
    .selectFrom('messages')
    .select(['kind', 'body'])
    .where('conversationId', '=', id)
    .orderBy('seq')
    .execute();
  return rows.map((m) => {
    const body = JSON.parse(m.body) as { event?: string; text?: string };
    return m.kind === 'event' ? `#${body.event ?? ''}` : (body.text ?? `[${m.kind}]`);
  });
}

/** Names of the conversation events stored for one conversation, in stream order. */
async function eventsOf(s: Stack, id: string): Promise<string[]> {
  const rows = await s.app.kefu.ctx.db
    .selectFrom('events')
    .select(['name', 'payload'])
    .where('workspaceId', '=', s.workspaceId)
    .where('name', 'like', 'conversation.%')
    .orderBy('seq')
    .execute();
  return rows
    .filter(
      (e) => (JSON.parse(e.payload) as { conversation: { id: string } }).conversation.id === id,
    )
    .map((e) => e.name);
}

const count = (xs: string[], x: string) => xs.filter((v) => v === x).length;

function loser(results: PromiseSettledResult<unknown>[]): ApiError {
  const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  expect(rejected).toHaveLength(1);
  const err = rejected[0]!.reason as unknown;
  if (!(err instanceof ApiError)) throw err;
  return err;
}

describe.each(DIALECTS)('conversation lifecycle races (%s)', (dialect) => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(dialect);
  });
  afterAll(() => s?.close());

  it('two agents accept at once: one wins, the other is told who, one line, one event', async () => {
    const [a, b] = [await s.agent('acc-a'), await s.agent('acc-b')];
    for (let r = 0; r < ROUNDS; r++) {
      const openid = `o-acc-${r}`;
      await s.sim.sendText(s.channel.appId, openid, `抢${r}`);
      const conv = await queuedFor(a, openid);
      const results = await Promise.allSettled([
        a.post(`/api/conversations/${conv.id}/accept`),
        b.post(`/api/conversations/${conv.id}/accept`),
      ]);
      const err = loser(results);
      expect(err.status).toBe(409);
      expect(err.body.code).toBe('CONV_ALREADY_TAKEN');
      const won = (results.find((x) => x.status === 'fulfilled') as PromiseFulfilledResult<any>)
        .value;
      const winner = won.agentId === a.agentId ? a : b;
      expect(err.body.details?.agentId).toBe(winner.agentId);
      expect(err.body.details?.agentName).toMatch(/^acc-/);
      expect(await row(s, conv.id)).toMatchObject({ state: 'active', agentId: winner.agentId });
      expect(count(await timeline(s, conv.id), '#accepted')).toBe(1);
      expect(count(await eventsOf(s, conv.id), 'conversation.assigned')).toBe(1);
      await winner.post(`/api/conversations/${conv.id}/close`);
    }
  });

  it('auto-assign races a manual accept: one claim, through the same conditional update', async () => {
    const x = await s.agent('auto-x');
    const y = await s.agent('hand-y');
    for (let r = 0; r < ROUNDS; r++) {
      const openid = `o-auto-${r}`;
      await s.sim.sendText(s.channel.appId, openid, `来了${r}`);
      const conv = await queuedFor(y, openid);
      // Turning auto-accept on drains the queue inside the request, racing Y's click.
      const [, accept] = await Promise.allSettled([
        x.put('/api/me/settings', { autoAccept: true }),
        y.post(`/api/conversations/${conv.id}/accept`),
      ]);
      const after = await row(s, conv.id);
      expect(after.state).toBe('active');
      if (accept.status === 'rejected') {
        const err = loser([accept]);
        expect(err.body.code).toBe('CONV_ALREADY_TAKEN');
        expect(err.body.details?.agentId).toBe(x.agentId);
        expect(after.agentId).toBe(x.agentId);
      } else {
        expect(after.agentId).toBe(y.agentId);
      }
      const lines = await timeline(s, conv.id);
      expect(count(lines, '#assigned') + count(lines, '#accepted')).toBe(1);
      expect(count(lines, after.agentId === x.agentId ? '#assigned' : '#accepted')).toBe(1);
      expect(count(await eventsOf(s, conv.id), 'conversation.assigned')).toBe(1);
      await x.put('/api/me/settings', { autoAccept: false });
      await (after.agentId === x.agentId ? x : y).post(`/api/conversations/${conv.id}/close`);
    }
  });

  it('a close races a customer message: the message lands before the close or opens a new conversation', async () => {
    const c = await s.agent('closer');
    for (let r = 0; r < ROUNDS; r++) {
      const openid = `o-close-${r}`;
      await s.sim.sendText(s.channel.appId, openid, `第一句${r}`);
      const conv = await queuedFor(c, openid);
      await c.post(`/api/conversations/${conv.id}/accept`);
      const text = `又来了${r}`;
      const [closed, pushed] = await Promise.allSettled([
        c.post(`/api/conversations/${conv.id}/close`),
        s.sim.sendText(s.channel.appId, openid, text),
      ]);
      expect(closed.status).toBe('fulfilled');
      expect(pushed.status === 'fulfilled' && pushed.value.acknowledged).toBe(true);
      const old = await row(s, conv.id);
      expect(old.state).toBe('closed');
      const open = await s.app.kefu.ctx.db
        .selectFrom('conversations')
        .select(['id', 'state'])
        .where('customerId', '=', old.customerId)
        .where('state', 'in', ['queued', 'active', 'idle'])
        .execute();
      expect(open.length).toBeLessThanOrEqual(1);
      const oldLines = await timeline(s, conv.id);
      const oldEvents = await eventsOf(s, conv.id);
      expect(count(oldLines, '#closed')).toBe(1);
      expect(count(oldEvents, 'conversation.closed')).toBe(1);
      if (oldLines.includes(text)) {
        // The message won: it is in before the close line, and nothing opened after.
        expect(oldLines.indexOf(text)).toBeLessThan(oldLines.indexOf('#closed'));
        expect(open).toHaveLength(0);
      } else {
        // The close won: the message opened the customer's next conversation, queued.
        expect(open).toHaveLength(1);
        const next = open[0]!;
        expect(next.state).toBe('queued');
        expect(await timeline(s, next.id)).toEqual([text]);
        expect(await eventsOf(s, next.id)).toContain('conversation.queued');
        await c.post(`/api/conversations/${next.id}/close`);
      }
      // Nothing reaches a conversation after its close, and the close is its last event.
      expect(oldLines.at(-1)).toBe('#closed');
      expect(oldEvents.at(-1)).toBe('conversation.closed');
    }
  });
});
