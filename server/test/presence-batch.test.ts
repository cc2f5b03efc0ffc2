import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../src/context';
import { Presence } from '../src/modules/realtime/presence';
import type { ApiClient, RealtimeClient } from './api-client';
import { REDIS_URL } from './cluster-harness';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';

const disconnectedAt = async (s: Stack, agentId: string) =>
  (
    await s.app.kefu.ctx.db
      .selectFrom('agents')
      .select('disconnectedAt')
      .where('id', '=', agentId)
      .executeTakeFirstOrThrow()
  ).disconnectedAt;

const settle = () => new Promise((r) => setTimeout(r, 150));

describe.each(DIALECTS)('presence writes, coalesced (%s)', (dialect) => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(dialect);
  });
  afterAll(() => s?.close());

  it('a burst of one agent’s sockets: null while any is open, set once all closed, two writes', async () => {
    const a = await s.agent('bursty');
    // Coming online started the grace period.
    expect(await disconnectedAt(s, a.agentId)).not.toBeNull();
    const presence = s.app.kefu.presence;
    const before = presence.writes;
    const sockets = await Promise.all(Array.from({ length: 30 }, () => a.socket()));
    await waitFor(async () => (await disconnectedAt(s, a.agentId)) === null, 10_000, 'cleared');
    // Closing all but one changes nothing.
    await Promise.all(sockets.slice(1).map((rt) => rt.close()));
    await settle();
    expect(await disconnectedAt(s, a.agentId)).toBeNull();
    await sockets[0]!.close();
    await waitFor(async () => (await disconnectedAt(s, a.agentId)) !== null, 10_000, 'set');
    // One statement for the first open, one for the last close (the old code: 60).
    expect(presence.writes - before).toBe(2);
  });

  it('many agents opening and closing together: consistent rows, few statements', async () => {
    const agents: ApiClient[] = [];
    for (let i = 0; i < 10; i++) agents.push(await s.agent(`crowd-${i}`));
    const presence = s.app.kefu.presence;
    const before = presence.writes;
    const sockets: RealtimeClient[] = await Promise.all(
      agents.flatMap((a) => Array.from({ length: 5 }, () => a.socket())),
    );
    await waitFor(
      async () =>
        (await Promise.all(agents.map((a) => disconnectedAt(s, a.agentId)))).every(
          (d) => d === null,
        ),
      10_000,
      'all cleared',
    );
    await Promise.all(sockets.map((rt) => rt.close()));
    await waitFor(
      async () =>
        (await Promise.all(agents.map((a) => disconnectedAt(s, a.agentId)))).every(
          (d) => d !== null,
        ),
      10_000,
      'all set',
    );
    // At most one statement per agent and direction however the flushes fell (100 before).
    expect(presence.writes - before).toBeLessThanOrEqual(2 * agents.length);
  });

  it('keeps only the latest transition: a quick reconnect is never written as disconnected', async () => {
    const a = await s.agent('flicker');
    const p = new Presence(s.app.kefu.ctx);
    try {
      p.connected(s.workspaceId, a.agentId);
      await p.flush();
      expect(await disconnectedAt(s, a.agentId)).toBeNull();
      const before = p.writes;
      // Gone and back within one interval: nothing to write.
      p.disconnected(s.workspaceId, a.agentId);
      p.connected(s.workspaceId, a.agentId);
      await p.flush();
      expect(await disconnectedAt(s, a.agentId)).toBeNull();
      expect(p.writes).toBe(before);
      // Back and gone again: the last one wins.
      p.disconnected(s.workspaceId, a.agentId);
      p.connected(s.workspaceId, a.agentId);
      p.disconnected(s.workspaceId, a.agentId);
      await p.flush();
      expect(await disconnectedAt(s, a.agentId)).not.toBeNull();
      expect(await p.isConnected(a.agentId)).toBe(false);
    } finally {
      await p.close();
    }
  });

  it('close() writes what is still pending', async () => {
    const a = await s.agent('closing');
    expect(await disconnectedAt(s, a.agentId)).not.toBeNull();
    const p = new Presence(s.app.kefu.ctx);
    p.connected(s.workspaceId, a.agentId);
    await p.close();
    expect(await disconnectedAt(s, a.agentId)).toBeNull();
  });

  it('the last socket on one node leaves the agent connected while another node has one', async () => {
    const a = await s.agent('two-nodes');
    const config = { ...s.app.kefu.ctx.config, redisUrl: REDIS_URL };
    const prefix = `kefu-test-${randomBytes(4).toString('hex')}:`;
    const nodeOf = (nodeId: string): AppContext => ({
      ...s.app.kefu.ctx,
      config: { ...config, redisPrefix: prefix, nodeId },
    });
    const n1 = new Presence(nodeOf('n1'));
    const n2 = new Presence(nodeOf('n2'));
    // A node with no socket of its own: it sees what the other two published.
    const observer = new Presence(nodeOf('n3'));
    try {
      n2.connected(s.workspaceId, a.agentId);
      await waitFor(() => observer.isConnected(a.agentId), 5_000, 'n2 published');
      n1.connected(s.workspaceId, a.agentId);
      await Promise.all([n1.flush(), n2.flush()]);
      // Each node's Redis commands run in order, so its flush sees its own field gone.
      n1.disconnected(s.workspaceId, a.agentId);
      await n1.flush();
      expect(await disconnectedAt(s, a.agentId)).toBeNull();
      n2.disconnected(s.workspaceId, a.agentId);
      await n2.flush();
      expect(await disconnectedAt(s, a.agentId)).not.toBeNull();
    } finally {
      await Promise.all([n1.close(), n2.close(), observer.close()]);
    }
  });
});
