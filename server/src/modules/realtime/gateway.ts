import type { ServerFrame } from '@kefu/shared';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { AppContext } from '../../context';
import { Coalescer } from '../../lib/coalesce';
import { type Caller, isSupervising } from '../agents/auth';
import type { EventBus } from './bus';
import {
  currentSeq,
  oldestKeptSeq,
  readEvents,
  type RevokeNotice,
  type StoredEvent,
} from './event-log';
import { clientFrameOf, frameOf, MAX_CLIENT_FRAME, newConn, type Conn } from './gateway-conn';
import { UpgradeGate } from './gateway-upgrade';
import type { Presence } from './presence';
import { CLOSE, closeCodeFor, liveSessionRoles } from './revoke';

const CHANNEL_CACHE_MS = 5_000;
const HEARTBEAT_MS = 15_000;
const RESUME_WAIT_MS = 5_000;
/**
 * Most bytes a socket may have queued (ws.bufferedAmount) before it is closed as too slow.
 * A live console reads each frame in milliseconds; one event is at most a few tens of KB (a
 * 2,000-character message with its conversation), so 1 MiB is a backlog of dozens to hundreds
 * of events, several seconds even on a poor mobile link. Past it, the socket is not reading, and
 * resuming from the database costs less than holding its backlog in our memory.
 */
export const MAX_BUFFERED = 1024 * 1024;
/** A replay past this backlog stops and says `resync`: the REST snapshot is cheaper. */
const REPLAY_MAX_BUFFERED = MAX_BUFFERED / 2;
/** A pong is only worth sending to a socket that is keeping up. */
const PONG_MAX_BUFFERED = 16 * 1024;

/**
 * The WebSocket gateway at /api/ws: authenticates at upgrade, replays missed events on resume (or
 * says resync), then streams each workspace's events to the sockets allowed to see them, in
 * sequence order. The database is the source of every frame, so all nodes agree. Whatever a
 * client sends, or fails to read, costs it its own socket at most, never the process.
 */
export class Gateway {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_CLIENT_FRAME,
    perMessageDeflate: false,
  });
  private readonly gate: UpgradeGate;
  private readonly conns = new Map<string, Set<Conn>>();
  private readonly pumps: Coalescer;
  private heartbeat: NodeJS.Timeout | null = null;
  private verifying = false;
  private closing = false;

  constructor(
    private readonly ctx: AppContext,
    bus: EventBus,
    private readonly presence: Presence,
  ) {
    this.pumps = new Coalescer((err) => ctx.log.error({ err }, 'realtime pump failed'));
    this.gate = new UpgradeGate(ctx, this.wss, (ws, caller) => this.open(ws, caller));
    bus.subscribe((workspaceId) => {
      if (!this.closing) void this.pumps.run(workspaceId, () => this.pump(workspaceId));
    });
    bus.onRevoke((notice) => this.revoke(notice));
  }

  attach(app: FastifyInstance): void {
    app.server.on('upgrade', this.gate.handle);
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
  }

  /** Number of live sockets (tests, metrics). */
  get size(): number {
    let n = 0;
    for (const set of this.conns.values()) n += set.size;
    return n;
  }

  /** Bytes queued for all sockets, not yet taken by the kernel (tests, metrics). */
  get bufferedBytes(): number {
    let n = 0;
    for (const ws of this.wss.clients) n += ws.bufferedAmount;
    return n;
  }

  async close(): Promise<void> {
    // Shutting down: sockets closing now say nothing about the agents' presence.
    this.closing = true;
    this.gate.close();
    if (this.heartbeat) clearInterval(this.heartbeat);
    // wss.clients also holds sockets whose hello is still being prepared.
    for (const ws of this.wss.clients) ws.terminate();
    this.conns.clear();
    await this.pumps.idle();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  /** Queues a frame unless the socket is past its backlog cap, which closes it instead. */
  private send(conn: Conn, frame: ServerFrame): boolean {
    const { ws } = conn;
    if (ws.readyState !== ws.OPEN) return false;
    const data = JSON.stringify(frame);
    if (ws.bufferedAmount + data.length > MAX_BUFFERED) {
      this.evict(conn, CLOSE.TOO_SLOW, 'too slow');
      return false;
    }
    ws.send(data);
    return true;
  }

  /** Stops streaming to a socket at once and closes it with `code`. */
  private evict(conn: Conn, code: number, reason: string): void {
    this.conns.get(conn.caller.workspaceId)?.delete(conn);
    clearTimeout(conn.fallback);
    conn.ready = false;
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.close(code, reason);
  }

  /** Wires a socket synchronously, before any await, so nothing it does goes unheard. */
  private open(ws: WebSocket, caller: Caller): void {
    const conn = newConn(ws, caller);
    // Bad frames (invalid UTF-8, unmasked, oversized, bad opcodes) arrive here; ws has already
    // failed the connection, and without a listener the error would end the process.
    ws.on('error', (err) => {
      this.ctx.log.debug({ err, agentId: caller.agentId }, 'websocket error');
      ws.terminate();
    });
    ws.on('close', () => this.closed(conn));
    ws.on('pong', () => (conn.alive = true));
    ws.on('message', (data, isBinary) => {
      try {
        this.onMessage(conn, data, isBinary);
      } catch (err) {
        this.ctx.log.warn({ err }, 'websocket message failed');
      }
    });
    if (this.closing) return void ws.terminate();
    const set = this.conns.get(caller.workspaceId) ?? new Set<Conn>();
    set.add(conn);
    this.conns.set(caller.workspaceId, set);
    this.greet(conn).catch((err: unknown) => {
      this.ctx.log.warn({ err }, 'websocket open failed');
      this.evict(conn, 1011, 'server error');
    });
  }

  private async greet(conn: Conn): Promise<void> {
    const { caller, ws } = conn;
    const seq = await currentSeq(this.ctx.db, caller.workspaceId);
    if (ws.readyState !== ws.OPEN || this.closing) return;
    if (!conn.resuming) conn.lastSeq = seq;
    conn.counted = true;
    this.send(conn, { type: 'hello', seq, agentId: caller.agentId });
    // A client that never asks to resume gets live events from the hello sequence on.
    if (!conn.resuming)
      conn.fallback = setTimeout(() => this.startResume(conn, seq), RESUME_WAIT_MS);
    this.presence
      .connected(caller.workspaceId, caller.agentId)
      .catch((err: unknown) => this.ctx.log.warn({ err }, 'presence update failed'));
  }

  private closed(conn: Conn): void {
    clearTimeout(conn.fallback);
    this.conns.get(conn.caller.workspaceId)?.delete(conn);
    if (conn.counted && !this.closing) {
      this.presence
        .disconnected(conn.caller.workspaceId, conn.caller.agentId)
        .catch((err: unknown) => this.ctx.log.warn({ err }, 'presence update failed'));
    }
  }

  private onMessage(conn: Conn, data: RawData, isBinary: boolean): void {
    const frame = clientFrameOf(conn, data, isBinary);
    if (!frame) return;
    if (frame.type === 'ping') {
      if (conn.ws.bufferedAmount <= PONG_MAX_BUFFERED)
        this.send(conn, { type: 'pong', at: this.ctx.now() });
    } else {
      this.startResume(conn, frame.lastSeq);
    }
  }

  private startResume(conn: Conn, lastSeq: number): void {
    if (conn.resuming) return;
    conn.resuming = true;
    clearTimeout(conn.fallback);
    this.resume(conn, lastSeq).catch((err: unknown) => {
      this.ctx.log.warn({ err }, 'websocket resume failed');
      this.evict(conn, 1011, 'server error');
    });
  }

  /** Replays what the client missed since `lastSeq`, or tells it to resync when that is gone. */
  private async resume(conn: Conn, lastSeq: number): Promise<void> {
    const { db } = this.ctx;
    const ws = conn.caller.workspaceId;
    const [current, oldest] = await Promise.all([currentSeq(db, ws), oldestKeptSeq(db, ws)]);
    let resync =
      lastSeq > current ||
      (oldest > 0 && lastSeq < oldest - 1) ||
      (oldest === 0 && lastSeq < current);
    let replayed = 0;
    if (!resync) {
      conn.lastSeq = lastSeq;
      for (;;) {
        const events = await readEvents(db, ws, conn.lastSeq);
        if (events.length === 0) break;
        const r = await this.deliver(conn, events, REPLAY_MAX_BUFFERED);
        replayed += r.sent;
        // A replay the client cannot absorb would close it as too slow, and it would come back
        // for the same replay: the snapshot ends that loop.
        if (r.full) {
          resync = true;
          break;
        }
      }
    }
    if (conn.ws.readyState !== conn.ws.OPEN) return;
    if (resync) {
      conn.lastSeq = Math.max(conn.lastSeq, await currentSeq(db, ws));
      this.send(conn, { type: 'resync', seq: conn.lastSeq });
    } else {
      this.send(conn, { type: 'resumed', seq: conn.lastSeq, replayed });
    }
    conn.ready = this.conns.get(ws)?.has(conn) ?? false;
    void this.pumps.run(ws, () => this.pump(ws));
  }

  private async visible(conn: Conn, ev: StoredEvent): Promise<boolean> {
    if (ev.agentId) return ev.agentId === conn.caller.agentId;
    if (!ev.channelId || isSupervising(conn.caller.role)) return true;
    const now = this.ctx.now();
    if (now - conn.channelsAt > CHANNEL_CACHE_MS) {
      const rows = await this.ctx.db
        .selectFrom('channelAgents')
        .select('channelId')
        .where('agentId', '=', conn.caller.agentId)
        .execute();
      conn.channels = new Set(rows.map((r) => r.channelId));
      conn.channelsAt = now;
    }
    return conn.channels.has(ev.channelId);
  }

  /** Sends the events after the socket's sequence; stops early once its backlog passes `limit`. */
  private async deliver(
    conn: Conn,
    events: StoredEvent[],
    limit = Infinity,
  ): Promise<{ sent: number; full: boolean }> {
    let sent = 0;
    for (const ev of events) {
      // A closing socket still moves on, or the pump would re-read the same events forever.
      if (conn.ws.readyState !== conn.ws.OPEN) {
        conn.lastSeq = Math.max(conn.lastSeq, events.at(-1)!.seq);
        break;
      }
      if (conn.ws.bufferedAmount > limit) return { sent, full: true };
      if (ev.seq <= conn.lastSeq) continue;
      if ((await this.visible(conn, ev)) && this.send(conn, frameOf(ev))) sent++;
      conn.lastSeq = ev.seq;
    }
    return { sent, full: false };
  }

  /** Sends every ready socket of a workspace the events after its last sequence. */
  private async pump(workspaceId: string): Promise<void> {
    const set = this.conns.get(workspaceId);
    if (!set || set.size === 0) return;
    for (;;) {
      const ready = [...set].filter((c) => c.ready && c.ws.readyState === c.ws.OPEN);
      if (ready.length === 0) return;
      const from = Math.min(...ready.map((c) => c.lastSeq));
      const events = await readEvents(this.ctx.db, workspaceId, from);
      if (events.length === 0) return;
      for (const conn of ready) if (set.has(conn)) await this.deliver(conn, events);
    }
  }

  /** Closes the sockets a revoke notice names (this node's share of it). */
  private revoke(notice: RevokeNotice): void {
    const code = closeCodeFor(notice.reason);
    for (const conn of [...(this.conns.get(notice.workspaceId) ?? [])]) {
      if (conn.caller.agentId !== notice.agentId) continue;
      if (notice.sessionId && conn.caller.sessionId !== notice.sessionId) continue;
      this.evict(conn, code, notice.reason);
    }
  }

  /**
   * The backstop for a lost revoke notice: closes every socket whose session is no longer good
   * (revoked, expired, agent disabled) or whose agent's role changed. Runs on each heartbeat.
   */
  async verifySessions(): Promise<void> {
    if (this.verifying) return;
    this.verifying = true;
    try {
      const all = [...this.conns.values()].flatMap((set) => [...set]);
      if (all.length === 0) return;
      const roles = await liveSessionRoles(
        this.ctx,
        all.map((c) => c.caller.sessionId),
      );
      for (const conn of all) {
        const role = roles.get(conn.caller.sessionId);
        if (!role) this.evict(conn, CLOSE.SIGNED_OUT, 'session ended');
        else if (role !== conn.caller.role) this.evict(conn, CLOSE.REAUTHORIZE, 'role changed');
      }
    } finally {
      this.verifying = false;
    }
  }

  private beat(): void {
    for (const set of this.conns.values()) {
      for (const conn of set) {
        if (!conn.alive) {
          conn.ws.terminate();
          continue;
        }
        conn.alive = false;
        conn.ws.ping();
      }
    }
    this.verifySessions().catch((err: unknown) =>
      this.ctx.log.warn({ err }, 'websocket session check failed'),
    );
  }

  /** Safety net for lost notifications: pump every workspace with sockets. */
  pumpAll(): void {
    for (const ws of this.conns.keys()) void this.pumps.run(ws, () => this.pump(ws));
  }
}
