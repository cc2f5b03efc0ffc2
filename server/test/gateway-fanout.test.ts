import type { RealtimeEvent } from '@kefu/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emitAccessChanged } from '../src/modules/agents/agent-service';
import { currentSeq } from '../src/modules/realtime/event-log';
import { CLOSE } from '../src/modules/realtime/revoke';
import type { ApiClient, RealtimeClient } from './api-client';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';
import { rawConsole } from './raw-ws';

const SOCKETS = 200;
const AGENTS = 10;

/** A workspace-wide event carrying `n`, cheap to emit in bulk. */
const marker = (n: number): RealtimeEvent => ({
  name: 'agent.status_changed',
  data: { agentId: `marker-${n}`, status: 'online' },
});

/** Emits `count` events on the channel (as a customer message would) in one transaction. */
async function emitMany(s: Stack, count: number, from = 0, channelId = s.channel.id) {
  await s.app.kefu.ctx.transact(async (u) => {
    for (let i = 0; i < count; i++) await u.emit(s.workspaceId, { channelId }, marker(from + i));
  });
}

const markersOf = (rt: RealtimeClient) =>
  rt
    .events()
    .filter((e) => e.name === 'agent.status_changed' && /^marker-/.test(e.data.agentId))
    .map((e) => ({ seq: e.seq, id: e.data.agentId as string }));

/** Opens `n` sockets spread over `agents`, a few at a time (resuming from `lastSeq[i]`). */
async function openMany(agents: ApiClient[], n: number, lastSeq?: number[]) {
  const out: RealtimeClient[] = [];
  for (let i = 0; i < n; i += 25) {
    const batch = Array.from({ length: Math.min(25, n - i) }, (_, k) =>
      agents[(i + k) % agents.length]!.socket(lastSeq?.[i + k]),
    );
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

describe.each(DIALECTS)('gateway fan-out (%s)', (dialect) => {
  let s: Stack;
  let agents: ApiClient[];
  beforeAll(async () => {
    s = await startStack(dialect);
    agents = [];
    for (let a = 0; a < AGENTS; a++) agents.push(await s.agent(`fan-${a}`));
  });
  afterAll(() => s?.close());

  it('hundreds of sockets get the same frames, in order; one that never reads blocks none', async () => {
    const sockets = await openMany(agents, SOCKETS);
    const { conn: slow } = await rawConsole(s.url, agents[0]!.token);
    slow.socket.pause();
    const total = 300;
    for (let i = 0; i < total; i += 50) await emitMany(s, 50, i);
    await waitFor(
      () => sockets.every((rt) => markersOf(rt).length === total),
      60_000,
      'every socket to get every event',
    );
    const first = markersOf(sockets[0]!);
    expect(first.map((m) => m.id)).toEqual(Array.from({ length: total }, (_, i) => `marker-${i}`));
    const seqs = first.map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    for (const rt of sockets) expect(markersOf(rt)).toEqual(first);
    // The silent socket is still open: it only costs its own (bounded) backlog.
    expect(slow.closed).toBe(false);
    slow.destroy();
    await Promise.all(sockets.map((rt) => rt.close()));
  });

  it('a reconnect of many sockets replays exactly what each missed, in order', async () => {
    const sockets = await openMany(agents, SOCKETS);
    await emitMany(s, 10, 1000);
    await waitFor(() => sockets.every((rt) => markersOf(rt).length === 10), 60_000, 'warm-up');
    // Each socket stops at a different point of a stream that keeps going.
    const lastSeq: number[] = [];
    for (let i = 0; i < sockets.length; i++) {
      if (i % 40 === 0) await emitMany(s, 5, 2000 + i);
      await sockets[i]!.close();
      lastSeq.push(sockets[i]!.lastSeq);
    }
    await emitMany(s, 40, 3000);
    const head = await currentSeq(s.app.kefu.ctx.db, s.workspaceId);
    const expected = (await s.app.kefu.ctx.db
      .selectFrom('events')
      .select(['seq', 'payload'])
      .where('workspaceId', '=', s.workspaceId)
      .where('seq', '<=', head)
      .orderBy('seq')
      .execute()) as { seq: number | string; payload: string }[];
    const again = await Promise.all(
      sockets.map((_, i) => agents[i % agents.length]!.socket(lastSeq[i])),
    );
    for (let i = 0; i < again.length; i++) {
      const rt = again[i]!;
      const resumed = rt.frames.find((f) => f.type === 'resumed');
      expect(resumed, `socket ${i}`).toBeDefined();
      const missed = expected.filter((e) => Number(e.seq) > lastSeq[i]!);
      const got = rt.events().filter((e) => e.seq <= head);
      expect(got.map((e) => e.seq)).toEqual(missed.map((e) => Number(e.seq)));
      expect(got.map((e) => e.data)).toEqual(missed.map((e) => JSON.parse(e.payload)));
    }
    await Promise.all(again.map((rt) => rt.close()));
  });

  it('unbinding an agent mid-stream: no event of that channel after the change commits', async () => {
    const other = await s.owner.post<{ id: string }>('/api/channels', {
      name: 'Second shop',
      appId: `wx${Date.now().toString(16).padStart(16, '0')}`,
      originalId: 'gh_second',
      appSecret: 'second-secret-1',
      token: 'secondtoken',
      encodingAesKey: 'b'.repeat(43),
      mode: 'safe',
      format: 'json',
      apiBase: s.app.kefu.ctx.config.wechatApiBase,
    });
    const agent = await s.agent('unbound');
    const watcher = agents[1]!;
    await s.owner.put(`/api/channels/${other.id}/agents`, { agentIds: [agent.agentId] });
    const rt = await agent.socket();
    const seen = await watcher.socket();
    // A stream on the second channel keeps going while the binding is removed.
    let running = true;
    let n = 0;
    const stream = (async () => {
      while (running) {
        await emitMany(s, 3, 5000 + (n += 3), other.id);
        // SQLite answers synchronously: without a timer turn this loop would starve the process.
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await waitFor(() => markersOf(rt).length >= 30, 30_000, 'the stream to flow');
    await s.owner.put(`/api/channels/${other.id}/agents`, { agentIds: [] });
    // Everything committed from here on is after the unbinding.
    const cut = await currentSeq(s.app.kefu.ctx.db, s.workspaceId);
    const emitted = n;
    await waitFor(() => n > emitted + 30, 30_000, 'more of the stream');
    running = false;
    await stream;
    await emitMany(s, 1, 9999);
    await rt.event('agent.status_changed', (d) => d.agentId === 'marker-9999', 30_000);
    const after = rt.events().filter((e) => e.seq > cut && e.data.agentId !== 'marker-9999');
    expect(after).toEqual([]);
    // The watcher is not bound to the second channel at all: it never saw any of it.
    await seen.event('agent.status_changed', (d) => d.agentId === 'marker-9999', 30_000);
    expect(
      markersOf(seen).filter((m) => m.id !== 'marker-9999' && Number(m.id.slice(7)) >= 5000),
    ).toEqual([]);
    await rt.close();
    await seen.close();
  });

  it('a role change that no notice announced still stops the old role’s view at once', async () => {
    const other = await s.owner.post<{ id: string }>('/api/channels', {
      name: 'Third shop',
      appId: `wx${(Date.now() + 1).toString(16).padStart(16, '0')}`,
      originalId: 'gh_third',
      appSecret: 'third-secret-1',
      token: 'thirdtoken',
      encodingAesKey: 'c'.repeat(43),
      mode: 'safe',
      format: 'json',
      apiBase: s.app.kefu.ctx.config.wechatApiBase,
    });
    const lead = await s.agent('lead');
    await s.owner.patch(`/api/agents/${lead.agentId}`, { role: 'supervisor' });
    const rt = await lead.socket();
    const closed = new Promise<number>((resolve) => rt.ws.once('close', (c: number) => resolve(c)));
    // A supervisor sees channels they are not bound to.
    await emitMany(s, 1, 7000, other.id);
    await rt.event('agent.status_changed', (d) => d.agentId === 'marker-7000', 30_000);
    // Demoted as updateAgent does it (the row and its access event, one transaction), but with
    // no revoke notice, as if it were lost: the event alone must stop the old role's view.
    await s.app.kefu.ctx.transact(async (u) => {
      await u.tx
        .updateTable('agents')
        .set({ role: 'agent' })
        .where('id', '=', lead.agentId)
        .execute();
      await emitAccessChanged(u, s.workspaceId, [lead.agentId]);
    });
    await emitMany(s, 5, 7001, other.id);
    expect(await closed).toBe(CLOSE.REAUTHORIZE);
    expect(markersOf(rt).map((m) => m.id)).toEqual(['marker-7000']);
  });
});
