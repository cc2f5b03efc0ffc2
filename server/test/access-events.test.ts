import type { RealtimeEvent } from '@kefu/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindAgent, unbindAgent } from '../src/modules/agents/agent-service';
import { CLOSE } from '../src/modules/realtime/revoke';
import type { ApiClient, RealtimeClient } from './api-client';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';

/** A cheap event carrying `tag` (the payload of a workspace-wide status event). */
const marker = (tag: string): RealtimeEvent => ({
  name: 'agent.status_changed',
  data: { agentId: tag, status: 'online' },
});

/** Commits one marker; on `channelId`, or workspace-wide (everyone sees it) when null. */
async function emit(s: Stack, tag: string, channelId: string | null): Promise<number> {
  await s.app.kefu.ctx.transact(async (u) => {
    await u.emit(s.workspaceId, { channelId }, marker(tag));
  });
  const row = await s.app.kefu.ctx.db
    .selectFrom('events')
    .select('seq')
    .where('workspaceId', '=', s.workspaceId)
    .where('payload', 'like', `%"${tag}"%`)
    .executeTakeFirstOrThrow();
  return Number(row.seq);
}

/** Waits until `rt` saw the workspace-wide marker `tag`: everything before it was judged. */
async function barrier(s: Stack, rt: RealtimeClient, tag: string): Promise<void> {
  await emit(s, tag, null);
  await rt.event('agent.status_changed', (d) => d.agentId === tag, 30_000);
}

const tagsOf = (rt: RealtimeClient) =>
  rt
    .events()
    .filter((e) => e.name === 'agent.status_changed')
    .map((e) => ({ seq: e.seq, tag: e.data.agentId as string }));

async function addChannel(s: Stack, name: string): Promise<string> {
  const ch = await s.owner.post<{ id: string }>('/api/channels', {
    name,
    appId: `wx${Math.random().toString(16).slice(2, 10).padEnd(16, '0')}`,
    originalId: `gh_${name.replace(/\W/g, '')}`,
    appSecret: 'some-secret-1',
    token: 'sometoken',
    encodingAesKey: 'd'.repeat(43),
    mode: 'safe',
    format: 'json',
    apiBase: s.app.kefu.ctx.config.wechatApiBase,
  });
  return ch.id;
}

describe.each(DIALECTS)('agent access changes reach open sockets (%s)', (dialect) => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(dialect);
  });
  afterAll(() => s?.close());

  it('unbinding stops a channel’s events from the next one on; binding again restarts them, on the same socket', async () => {
    const a = await s.agent('rebind');
    const rt = await a.socket();
    const { ctx } = s.app.kefu;
    const ch = s.channel.id;
    await emit(s, 'before', ch);
    await rt.event('agent.status_changed', (d) => d.agentId === 'before');

    // The service functions (unbindAgent now commits in a transaction, with the event).
    await unbindAgent(ctx, s.workspaceId, ch, a.agentId);
    const hidden = await emit(s, 'while-unbound', ch);
    await barrier(s, rt, 'after-unbind');
    expect(tagsOf(rt).map((t) => t.tag)).not.toContain('while-unbound');
    const changes = rt.events().filter((e) => e.name === 'agent.access_changed');
    expect(changes).toHaveLength(1);
    expect(changes[0]!.data).toEqual({ agentId: a.agentId });
    expect(changes[0]!.seq).toBeLessThan(hidden);

    await bindAgent(ctx, s.workspaceId, ch, a.agentId);
    await emit(s, 'rebound', ch);
    await rt.event('agent.status_changed', (d) => d.agentId === 'rebound');

    // The bindings replacement (PUT /api/channels/:id/agents) does the same.
    const bound = await ctx.db
      .selectFrom('channelAgents')
      .select('agentId')
      .where('channelId', '=', ch)
      .execute();
    const without = bound.map((b) => b.agentId).filter((id) => id !== a.agentId);
    await s.owner.put(`/api/channels/${ch}/agents`, { agentIds: without });
    await emit(s, 'put-unbound', ch);
    await barrier(s, rt, 'after-put');
    expect(tagsOf(rt).map((t) => t.tag)).not.toContain('put-unbound');
    await s.owner.put(`/api/channels/${ch}/agents`, { agentIds: [...without, a.agentId] });
    await emit(s, 'put-rebound', ch);
    await rt.event('agent.status_changed', (d) => d.agentId === 'put-rebound');

    expect(rt.events().filter((e) => e.name === 'agent.access_changed')).toHaveLength(4);
    // One connection all along.
    expect(rt.frames.filter((f) => f.type === 'hello')).toHaveLength(1);
    expect(rt.ws.readyState).toBe(rt.ws.OPEN);
    // A binding that does not change anything says nothing.
    await bindAgent(ctx, s.workspaceId, ch, a.agentId);
    await unbindAgent(ctx, s.workspaceId, await addChannel(s, 'Never bound'), a.agentId);
    await barrier(s, rt, 'no-op');
    expect(rt.events().filter((e) => e.name === 'agent.access_changed')).toHaveLength(4);
    await rt.close();
  });

  it('no event committed after an unbinding reaches the agent, whatever the interleaving', async () => {
    const ch = await addChannel(s, 'Busy shop');
    const agents: ApiClient[] = [];
    for (let i = 0; i < 3; i++) agents.push(await s.agent(`busy-${i}`));
    const ids = agents.map((a) => a.agentId);
    await s.owner.put(`/api/channels/${ch}/agents`, { agentIds: ids });
    const sockets: RealtimeClient[] = [];
    for (const a of agents) sockets.push(await a.socket(), await a.socket());
    let running = true;
    let n = 0;
    const stream = (async () => {
      while (running) {
        await emit(s, `busy-${n++}`, ch);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await waitFor(() => sockets.every((rt) => tagsOf(rt).length >= 5), 30_000, 'the stream');
    // Unbind and rebind repeatedly while the stream flows, and open a fresh socket of an agent
    // right as each change commits (its first load races the change).
    const cuts: { agentId: string; from: number; to: number }[] = [];
    const late: { agentId: string; rt: Promise<RealtimeClient> }[] = [];
    for (let round = 0; round < 4; round++) {
      const gone = ids[round % ids.length]!;
      const fresh = agents[round % agents.length]!;
      late.push({ agentId: gone, rt: fresh.socket() });
      await s.owner.put(`/api/channels/${ch}/agents`, {
        agentIds: ids.filter((id) => id !== gone),
      });
      const from = await seqOf(s, gone, 'unbound');
      await new Promise((r) => setTimeout(r, 40));
      await s.owner.put(`/api/channels/${ch}/agents`, { agentIds: ids });
      cuts.push({ agentId: gone, from, to: await seqOf(s, gone, 'rebound') });
    }
    running = false;
    await stream;
    const all = [...sockets.map((rt, i) => ({ agentId: ids[i >> 1]!, rt }))];
    for (const l of late) all.push({ agentId: l.agentId, rt: await l.rt });
    for (let i = 0; i < all.length; i++) await barrier(s, all[i]!.rt, `end-${i}`);
    for (const { agentId, rt } of all) {
      for (const cut of cuts.filter((c) => c.agentId === agentId)) {
        const leaked = tagsOf(rt).filter(
          (t) => t.tag.startsWith('busy-') && t.seq > cut.from && t.seq < cut.to,
        );
        expect(leaked, `${agentId} between ${cut.from} and ${cut.to}`).toEqual([]);
      }
    }
    // And the stream did reach them outside the cuts.
    for (const { rt } of all.slice(0, sockets.length))
      expect(tagsOf(rt).filter((t) => t.tag.startsWith('busy-')).length).toBeGreaterThan(5);
    await Promise.all(all.map(({ rt }) => rt.close()));
  });

  it('disabling an agent closes their sockets before any later event', async () => {
    const a = await s.agent('fired');
    const rt = await a.socket();
    const closed = new Promise<number>((resolve) => rt.ws.once('close', (c: number) => resolve(c)));
    await s.owner.patch(`/api/agents/${a.agentId}`, { disabled: true });
    await emit(s, 'after-disable', s.channel.id);
    expect(await closed).toBe(CLOSE.SIGNED_OUT);
    expect(tagsOf(rt).map((t) => t.tag)).not.toContain('after-disable');
  });
});

/**
 * The sequence of the latest `agent.access_changed` for `agentId` (the change just made).
 * `what` only labels a failure.
 */
async function seqOf(s: Stack, agentId: string, what: string): Promise<number> {
  const row = await s.app.kefu.ctx.db
    .selectFrom('events')
    .select('seq')
    .where('workspaceId', '=', s.workspaceId)
    .where('name', '=', 'agent.access_changed')
    .where('agentId', '=', agentId)
    .orderBy('seq', 'desc')
    .executeTakeFirst();
  if (!row) throw new Error(`no access change (${what}) for ${agentId}`);
  return Number(row.seq);
}
