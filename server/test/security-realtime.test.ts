import type { RealtimeEvent } from '@kefu/shared';
import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BUFFERED } from '../src/modules/realtime/gateway';
import { CLOSE } from '../src/modules/realtime/revoke';
import { ApiClient, type RealtimeClient } from './api-client';
import { clusterOwner, startCluster, type Cluster } from './cluster-harness';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';
import { encodeFrame, rawConsole, rawUpgrade, textFrame, type RawConn } from './raw-ws';

/** Resolves with the close code the server gives `rt`. */
function closeCodeOf(rt: RealtimeClient): Promise<number> {
  return new Promise((resolve) => rt.ws.once('close', (code: number) => resolve(code)));
}

describe.each(DIALECTS)('realtime gateway under attack (%s)', (dialect) => {
  let s: Stack;
  let watcher: ApiClient;
  let rt: RealtimeClient;
  let customers = 0;
  beforeAll(async () => {
    s = await startStack(dialect);
    watcher = await s.agent('watcher');
    rt = await watcher.socket();
  });
  afterAll(async () => {
    await rt?.close();
    await s?.close();
  });

  /** A new customer writes in; resolves once the well-behaved socket saw it. */
  async function stillStreaming(): Promise<void> {
    const openid = `o-sec-${++customers}`;
    await s.sim.sendText(s.channel.appId, openid, '还在吗');
    await rt.event('conversation.queued', (d) => d.conversation.customer.openid === openid, 20_000);
  }

  it('1: a bad frame costs the sender its socket, never the process', async () => {
    const attacker = await s.agent('attacker');
    const bad: [string, Buffer][] = [
      // A masked text frame with a zero mask whose payload (c3 28) is not UTF-8.
      ['invalid UTF-8', Buffer.from([0x81, 0x82, 0x00, 0x00, 0x00, 0x00, 0xc3, 0x28])],
      ['unmasked', encodeFrame(0x1, '{"type":"ping"}', { mask: false })],
      ['1 MB', encodeFrame(0x1, Buffer.alloc(1024 * 1024, 0x61))],
      ['reserved opcode', encodeFrame(0x3, 'x')],
      ['RSV bits', encodeFrame(0x1, '{"type":"ping"}', { rsv: 0b100 })],
      ['ping > 125 bytes', encodeFrame(0x9, Buffer.alloc(200))],
    ];
    for (const [what, bytes] of bad) {
      const { conn } = await rawConsole(s.url, attacker.token);
      conn.write(bytes);
      await conn.closedByServer();
      expect(conn.closedByPeer, what).toBe(true);
      await stillStreaming();
    }
    // Well-formed frames that are not ours are ignored; the socket keeps working.
    const { conn } = await rawConsole(s.url, attacker.token);
    for (const junk of [
      encodeFrame(0x2, randomBytes(100)),
      encodeFrame(0x1, '{'),
      textFrame({ type: 'nope' }),
      textFrame({ type: 'resume', lastSeq: -1 }),
      textFrame({ type: 'resume', lastSeq: 1e308 }),
      textFrame({ type: 'ping' }),
    ])
      conn.write(junk);
    await conn.until(() => conn.json().some((f) => f.type === 'pong'), 20_000, 'pong');
    expect(conn.closed).toBe(false);
    conn.destroy();
    await stillStreaming();
  });

  it('2: an upgrade on any other path is answered and closed; a shutdown does not wait', async () => {
    const own = await startStack(dialect);
    const paths = ['/', '/api/health', '/api/wsx', '/ws', '/api/ws/extra', '/%zz', '//x'];
    const others = await Promise.all(
      Array.from({ length: 200 }, (_, i) => rawUpgrade(own.url, paths[i % paths.length]!)),
    );
    await Promise.all(others.map((c) => c.closedByServer()));
    expect(others.map((c) => c.status)).toEqual(others.map(() => 404));
    expect(others.every((c) => c.closedByPeer)).toBe(true);
    // Clients that reset while their session is being looked up leave nothing behind.
    const auth = { Authorization: `Bearer ${own.owner.token}` };
    for (let i = 0; i < 50; i++)
      (await rawUpgrade(own.url, '/api/ws', auth)).socket.resetAndDestroy();
    expect((await own.owner.get('/api/me')).agent).toBeTruthy();
    // Shutting down with live sockets and upgrades in flight: every one of them is ended.
    const live = await Promise.all(
      Array.from({ length: 10 }, () => rawConsole(own.url, own.owner.token)),
    );
    const inFlight = await Promise.all(
      Array.from({ length: 10 }, () => rawUpgrade(own.url, '/api/ws', auth)),
    );
    await own.close();
    const all: RawConn[] = [...live.map((l) => l.conn), ...inFlight];
    await Promise.all(all.map((c) => c.closedByServer()));
  });

  it('3: a socket that does not read is closed as too slow; the console resumes', async () => {
    const slow = await s.agent('slow');
    const { conn } = await rawConsole(s.url, slow.token);
    conn.socket.pause();
    const gateway = s.app.kefu.gateway;
    const before = gateway.size;
    // A real message's shape, at the longest text a customer can send.
    const openid = `o-sec-slow`;
    await s.sim.sendText(s.channel.appId, openid, '慢'.repeat(2000));
    const conv = await rt.event(
      'conversation.queued',
      (d) => d.conversation.customer.openid === openid,
    );
    const [message] = (await watcher.get(`/api/conversations/${conv.conversation.id}/messages`))
      .items;
    const event = { name: 'message.updated', data: { message } } as RealtimeEvent;
    let peak = 0;
    for (let batch = 0; gateway.size >= before; batch++) {
      expect(batch, 'the slow socket was never closed').toBeLessThan(400);
      // Pings too: a flood must not be answered into a socket that does not read.
      for (let i = 0; i < 50; i++) conn.write(textFrame({ type: 'ping' }));
      await s.app.kefu.ctx.transact(async (u) => {
        for (let i = 0; i < 50; i++) await u.emit(s.workspaceId, {}, event);
      });
      await new Promise((r) => setTimeout(r, 10));
      peak = Math.max(peak, gateway.bufferedBytes);
    }
    // The evicted socket's backlog, plus the live sockets' in-flight frames.
    expect(peak).toBeLessThan(MAX_BUFFERED + 512 * 1024);
    conn.socket.resume();
    await conn.until(() => conn.closeCode() !== null, 30_000, 'a close frame');
    const frames = conn.frames();
    expect(conn.closeCode()).toBe(CLOSE.TOO_SLOW);
    expect(frames.at(-1)!.opcode).toBe(0x8);
    conn.write(encodeFrame(0x8, frames.at(-1)!.payload));
    await conn.closedByServer();
    await waitFor(() => gateway.bufferedBytes < 256 * 1024, 20_000, 'the backlog to be freed');
    // The console reconnects and resumes from the last event it applied.
    const lastSeq = Math.max(...conn.json().map((f) => (f.type === 'event' ? f.seq! : 0)));
    const again = await slow.socket(lastSeq);
    expect(again.frames.some((f) => f.type === 'resumed' || f.type === 'resync')).toBe(true);
    await again.close();
    await stillStreaming();
  });

  it('3: a ping flood from a socket that does not read is not answered in kind', async () => {
    const flooder = await s.agent('flooder');
    const { conn } = await rawConsole(s.url, flooder.token);
    conn.socket.pause();
    const pings = 20_000;
    const ping = textFrame({ type: 'ping' });
    conn.write(Buffer.concat(Array.from({ length: pings }, () => ping)));
    // The server reads frames in order: its answer to the close comes after every pong.
    conn.write(encodeFrame(0x8, Buffer.from([0x03, 0xe8])));
    conn.socket.resume();
    await conn.closedByServer();
    const pongs = conn.json().filter((f) => f.type === 'pong').length;
    expect(pongs).toBeGreaterThan(0);
    expect(pongs).toBeLessThan(pings / 20);
    await stillStreaming();
  });

  it('5: sign-out, disabling, a password reset and a demotion close the agent’s sockets', async () => {
    const out = await s.agent('signs-out');
    const other = await out.socket();
    const mine = await out.socket();
    // Only the session that signs out loses its sockets: the same agent on another device keeps
    // theirs.
    const { login } = (await s.owner.get('/api/agents')).items.find(
      (a: { id: string }) => a.id === out.agentId,
    );
    const elsewhere = await ApiClient.login(s.url, login, 'agent-pass-1');
    const keeps = await elsewhere.socket();
    const closing = closeCodeOf(mine);
    const closingToo = closeCodeOf(other);
    await out.post('/api/auth/logout');
    expect(await closing).toBe(CLOSE.SIGNED_OUT);
    expect(await closingToo).toBe(CLOSE.SIGNED_OUT);

    const fired = await s.agent('fired');
    const firedRt = await fired.socket();
    const firedClosed = closeCodeOf(firedRt);
    await s.owner.patch(`/api/agents/${fired.agentId}`, { disabled: true });
    expect(await firedClosed).toBe(CLOSE.SIGNED_OUT);

    const reset = await s.agent('reset');
    const resetRt = await reset.socket();
    const resetClosed = closeCodeOf(resetRt);
    await s.owner.post(`/api/agents/${reset.agentId}/password`, { password: 'a-new-pass-1' });
    expect(await resetClosed).toBe(CLOSE.SIGNED_OUT);

    const boss = await s.agent('boss');
    await s.owner.patch(`/api/agents/${boss.agentId}`, { role: 'supervisor' });
    const bossRt = await boss.socket();
    const demoted = closeCodeOf(bossRt);
    await s.owner.patch(`/api/agents/${boss.agentId}`, { role: 'agent' });
    expect(await demoted).toBe(CLOSE.REAUTHORIZE);
    // Reconnecting is authorized afresh, with the new role.
    const bossAgain = await boss.socket();
    expect(s.app.kefu.gateway.size).toBeGreaterThan(0);
    await bossAgain.close();

    expect(keeps.ws.readyState).toBe(keeps.ws.OPEN);
    await keeps.close();
    await stillStreaming();
  });

  it('5: a revocation whose notice was lost is caught by the session check', async () => {
    const quiet = await s.agent('quiet');
    const quietRt = await quiet.socket();
    const closed = closeCodeOf(quietRt);
    // Revoked behind the gateway's back: no notice on the bus.
    await s.app.kefu.ctx.db
      .updateTable('sessions')
      .set({ revokedAt: s.clock.now() })
      .where('agentId', '=', quiet.agentId)
      .execute();
    await s.app.kefu.gateway.verifySessions();
    expect(await closed).toBe(CLOSE.SIGNED_OUT);
  });

  it('15: the socket takes the session from a header or a same-origin cookie, never the URL', async () => {
    const cookie = `kefu_session=${encodeURIComponent(watcher.token)}`;
    const host = new URL(s.url).host;
    const hijack = await rawUpgrade(s.url, '/api/ws', {
      Cookie: cookie,
      Origin: 'https://evil.example',
    });
    await hijack.closedByServer();
    expect(hijack.status).toBe(403);
    const sibling = await rawUpgrade(s.url, '/api/ws', {
      Cookie: cookie,
      Origin: `http://shop.${host}`,
    });
    await sibling.closedByServer();
    expect(sibling.status).toBe(403);
    const ownOrigin = await rawUpgrade(s.url, '/api/ws', { Cookie: cookie, Origin: s.url });
    await ownOrigin.until(() => ownOrigin.json().some((f) => f.type === 'hello'), 20_000, 'hello');
    expect(ownOrigin.status).toBe(101);
    ownOrigin.destroy();
    const inUrl = await rawUpgrade(s.url, `/api/ws?token=${encodeURIComponent(watcher.token)}`);
    await inUrl.closedByServer();
    expect(inUrl.status).toBe(401);
  });
});

// Cluster mode needs PostgreSQL; it runs whenever the postgres dialect is being tested.
describe.runIf(DIALECTS.includes('postgres'))('revocation across a cluster', () => {
  let cluster: Cluster;
  let nodes: FastifyInstance[] = [];
  let urls: string[] = [];
  let owner: ApiClient;
  let tag = '';

  beforeAll(async () => {
    cluster = await startCluster();
    ({ nodes, urls, tag } = cluster);
    owner = await clusterOwner(cluster, urls[1]);
  });
  afterAll(() => cluster?.close());

  it('disabling an agent through node B closes their socket on node A', async () => {
    const { id } = await owner.post<{ id: string }>('/api/agents', {
      login: `${tag}-fired`,
      displayName: '被停用',
      password: 'agent-pass-1',
    });
    const onA = await ApiClient.login(urls[0]!, `${tag}-fired`, 'agent-pass-1');
    const rt = await onA.socket();
    const closed = closeCodeOf(rt);
    await owner.patch(`/api/agents/${id}`, { disabled: true });
    expect(await closed).toBe(CLOSE.SIGNED_OUT);
    await waitFor(() => nodes[0]!.kefu.gateway.size === 0, 20_000, 'node A to drop the socket');
  });

  it('a demotion through node B makes node A re-authorize the socket', async () => {
    const { id } = await owner.post<{ id: string }>('/api/agents', {
      login: `${tag}-lead`,
      displayName: '组长',
      password: 'agent-pass-1',
      role: 'supervisor',
    });
    const onA = await ApiClient.login(urls[0]!, `${tag}-lead`, 'agent-pass-1');
    const rt = await onA.socket();
    const closed = closeCodeOf(rt);
    await owner.patch(`/api/agents/${id}`, { role: 'agent' });
    expect(await closed).toBe(CLOSE.REAUTHORIZE);
  });
});
