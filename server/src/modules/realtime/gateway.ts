import type { ServerFrame } from '@kefu/shared';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { AppContext } from '../../context';
import { Coalescer } from '../../lib/coalesce';
import type { Duplex } from 'node:stream';
import type { Caller } from '../agents/auth';
import type { EventBus } from './bus';
import { currentSeq, type RevokeNotice } from './event-log';
import { clientFrameOf, MAX_CLIENT_FRAME, newConn, type Conn } from './gateway-conn';
import { flushTail } from './gateway-flush';
import { beatRooms, mustResync, newRoom, pumpRoom, type Room } from './gateway-room';
import { UpgradeGate } from './gateway-upgrade';
import type { Presence } from './presence';
import { CLOSE, closeCodeFor, liveSessionRoles } from './revoke';
import { tick } from './stream-tail';

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
 *
 * Fan-out: each event is read once into the workspace's `StreamTail` and serialized there once,
 * as a whole WebSocket frame; every socket that may see it gets those same bytes. Who may see it
 * comes from an in-memory `VisibilityView`, loaded once per agent and reloaded only when the
 * stream carries a change of their access. Walks over all sockets yield every few hundred.
 */
export class Gateway {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_CLIENT_FRAME,
    perMessageDeflate: false,
  });
  private readonly gate: UpgradeGate;
  private readonly rooms = new Map<string, Room>();
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
    this.gate = new UpgradeGate(ctx, this.wss, (ws, socket, caller) =>
      this.open(ws, socket, caller),
    );
    bus.subscribe((workspaceId) => {
      if (!this.closing) void this.pumps.run(workspaceId, () => this.pump(workspaceId));
    });
    bus.onRevoke((notice) => this.revoke(notice));
  }

  attach(app: FastifyInstance): void {
    app.server.on('upgrade', this.gate.handle);
    this.heartbeat = setInterval(() => {
      this.beat().catch((err: unknown) => this.ctx.log.warn({ err }, 'websocket heartbeat failed'));
    }, HEARTBEAT_MS);
  }

  /** Number of live sockets (tests, metrics). */
  get size(): number {
    let n = 0;
    for (const room of this.rooms.values()) n += room.conns.size;
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
    this.rooms.clear();
    await this.pumps.idle();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  /** Queues a control frame unless the socket is past its backlog cap, which closes it instead. */
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
    this.leave(conn);
    clearTimeout(conn.fallback);
    conn.ready = false;
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.close(code, reason);
  }

  private leave(conn: Conn): void {
    const room = this.rooms.get(conn.caller.workspaceId);
    if (room?.conns.delete(conn)) room.view.remove(conn.caller.agentId);
  }

  private roomOf(workspaceId: string): Room {
    let room = this.rooms.get(workspaceId);
    if (!room) {
      room = newRoom(this.ctx.db, workspaceId);
      this.rooms.set(workspaceId, room);
    }
    return room;
  }

  /** Wires a socket synchronously, before any await, so nothing it does goes unheard. */
  private open(ws: WebSocket, socket: Duplex, caller: Caller): void {
    const conn = newConn(ws, socket, caller);
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
    // In the room at once, so a revocation from now on reaches it.
    const room = this.roomOf(caller.workspaceId);
    room.conns.add(conn);
    room.view.add(caller.agentId);
    this.greet(conn).catch((err: unknown) => {
      this.ctx.log.warn({ err }, 'websocket open failed');
      this.evict(conn, 1011, 'server error');
    });
  }

  private async greet(conn: Conn): Promise<void> {
    const { caller, ws } = conn;
    // Once the window is open its end is a committed sequence: a hello from it needs no query
    // (at worst a little behind, which only replays events the client then applies again).
    const room = this.rooms.get(caller.workspaceId);
    const tail = room?.tail;
    const seq = tail?.ready ? tail.to : await currentSeq(this.ctx.db, caller.workspaceId);
    if (ws.readyState !== ws.OPEN || this.closing) return;
    tail?.start(seq);
    // The window is open: the agent's access can load while the client answers the hello.
    if (room?.conns.has(conn)) room.view.request(caller.agentId);
    conn.lastSeq = seq;
    conn.counted = true;
    this.send(conn, { type: 'hello', seq, agentId: caller.agentId });
    if (conn.early !== null) this.startResume(conn, conn.early);
    // A client that never asks to resume gets live events from the hello sequence on.
    else conn.fallback = setTimeout(() => this.startResume(conn, seq), RESUME_WAIT_MS);
    this.presence.connected(caller.workspaceId, caller.agentId);
  }

  private closed(conn: Conn): void {
    clearTimeout(conn.fallback);
    this.leave(conn);
    if (conn.counted && !this.closing)
      this.presence.disconnected(conn.caller.workspaceId, conn.caller.agentId);
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
    // Before the hello the stream's window may not be open yet: the resume waits for it.
    if (!conn.counted) return void (conn.early ??= lastSeq);
    conn.resuming = true;
    clearTimeout(conn.fallback);
    this.resume(conn, lastSeq).catch((err: unknown) => {
      this.ctx.log.warn({ err }, 'websocket resume failed');
      this.evict(conn, 1011, 'server error');
    });
  }

  /**
   * Replays what the client missed since `lastSeq`, or tells it to resync when that is gone.
   * The replay comes from the shared tail (one read serves every socket resuming at once) and is
   * written corked, so N missed events leave in one write.
   */
  private async resume(conn: Conn, lastSeq: number): Promise<void> {
    const since = tick();
    const wsId = conn.caller.workspaceId;
    const room = this.rooms.get(wsId);
    if (!room || !room.conns.has(conn)) return;
    const { tail, view } = room;
    let resync = await mustResync(this.ctx.db, room, wsId, lastSeq);
    // Set before any wait, so the tail keeps what this replay needs.
    if (!resync) conn.lastSeq = lastSeq;
    // Behind the window: bring it back to this socket (shared with all resuming now) or resync.
    if (!resync && lastSeq < tail.from) resync = !(await tail.backfill(lastSeq));
    let replayed = 0;
    await tail.sync(since);
    // Usually loaded since the hello; a socket of an agent already here needs no load at all.
    await view.ensure([conn.caller.agentId]);
    if (!resync) {
      const r = this.flush(conn, room, REPLAY_MAX_BUFFERED);
      replayed = r.sent;
      // A replay the client cannot absorb would close it as too slow, and it would come back
      // for the same replay: the snapshot ends that loop.
      resync = r.full;
    }
    if (conn.ws.readyState !== conn.ws.OPEN) return;
    if (resync) {
      conn.lastSeq = Math.max(conn.lastSeq, tail.to);
      this.send(conn, { type: 'resync', seq: conn.lastSeq });
    } else {
      this.send(conn, { type: 'resumed', seq: conn.lastSeq, replayed });
    }
    conn.ready = room.conns.has(conn);
    // Whatever a pump appended meanwhile: its walk may have passed this socket while not ready.
    if (conn.ready) this.flush(conn, room);
  }

  /** Writes what the socket is owed (see `flushTail`), closing it if it must go. */
  private flush(conn: Conn, room: Room, limit = Infinity): { sent: number; full: boolean } {
    if (conn.ws.readyState !== conn.ws.OPEN) return { sent: 0, full: false };
    const r = flushTail(conn, room.tail, room.view, limit, MAX_BUFFERED);
    if (r.close) this.evict(conn, r.close[0], r.close[1]);
    return r;
  }

  /** Sends every ready socket of a workspace the events after its last sequence. */
  private async pump(workspaceId: string): Promise<void> {
    const room = this.rooms.get(workspaceId);
    if (room) await pumpRoom(room, (conn) => this.flush(conn, room));
  }

  /** Closes the sockets a revoke notice names (this node's share of it). */
  private revoke(notice: RevokeNotice): void {
    const code = closeCodeFor(notice.reason);
    for (const conn of [...(this.rooms.get(notice.workspaceId)?.conns ?? [])]) {
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
      const all = [...this.rooms.values()].flatMap((room) => [...room.conns]);
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

  private async beat(): Promise<void> {
    await beatRooms(this.rooms);
    await this.verifySessions();
  }

  /** Safety net for lost notifications: pump every workspace with sockets. */
  pumpAll(): void {
    for (const ws of this.rooms.keys()) void this.pumps.run(ws, () => this.pump(ws));
  }
}
