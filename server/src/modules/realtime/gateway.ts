import { clientFrameSchema, type ServerFrame } from '@kefu/shared';
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AppContext } from '../../context';
import { Coalescer } from '../../lib/coalesce';
import { authenticateToken, SESSION_COOKIE, type Caller, isSupervising } from '../agents/auth';
import type { EventBus } from './bus';
import { currentSeq, oldestKeptSeq, readEvents, type StoredEvent } from './event-log';
import type { Presence } from './presence';

const CHANNEL_CACHE_MS = 5_000;
const HEARTBEAT_MS = 15_000;
const RESUME_WAIT_MS = 5_000;

interface Conn {
  ws: WebSocket;
  caller: Caller;
  /** Last sequence delivered (or skipped as not visible) on this socket. */
  lastSeq: number;
  /** False until the resume handshake has replayed what the client missed. */
  ready: boolean;
  alive: boolean;
  channels: Set<string>;
  channelsAt: number;
}

function tokenOf(req: IncomingMessage, url: URL): string | null {
  const q = url.searchParams.get('token');
  if (q) return q;
  const cookie = req.headers.cookie
    ?.split(';')
    .map((c) => c.trim().split('='))
    .find(([n]) => n === SESSION_COOKIE);
  return cookie?.[1] ? decodeURIComponent(cookie[1]) : null;
}

/**
 * The WebSocket gateway at /api/ws: authenticates at upgrade, replays missed events on resume (or
 * says resync), then streams each workspace's events to the sockets allowed to see them, in
 * sequence order. The database is the source of every frame, so all nodes agree.
 */
export class Gateway {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly conns = new Map<string, Set<Conn>>();
  private readonly pumps: Coalescer;
  private heartbeat: NodeJS.Timeout | null = null;
  private closing = false;

  constructor(
    private readonly ctx: AppContext,
    bus: EventBus,
    private readonly presence: Presence,
  ) {
    this.pumps = new Coalescer((err) => ctx.log.error({ err }, 'realtime pump failed'));
    bus.subscribe((workspaceId) => {
      if (!this.closing) void this.pumps.run(workspaceId, () => this.pump(workspaceId));
    });
  }

  attach(app: FastifyInstance): void {
    app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname !== '/api/ws') return;
      authenticateToken(this.ctx, tokenOf(req, url)).then(
        (caller) => this.wss.handleUpgrade(req, socket, head, (ws) => void this.open(ws, caller)),
        () => {
          socket.write(
            'HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
          );
          socket.destroy();
        },
      );
    });
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
  }

  /** Number of live sockets (tests, metrics). */
  get size(): number {
    let n = 0;
    for (const set of this.conns.values()) n += set.size;
    return n;
  }

  async close(): Promise<void> {
    // Shutting down: sockets closing now say nothing about the agents' presence.
    this.closing = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const set of this.conns.values()) for (const c of set) c.ws.terminate();
    this.conns.clear();
    await this.pumps.idle();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private send(conn: Conn, frame: ServerFrame): void {
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(JSON.stringify(frame));
  }

  private async open(ws: WebSocket, caller: Caller): Promise<void> {
    const seq = await currentSeq(this.ctx.db, caller.workspaceId);
    const conn: Conn = {
      ws,
      caller,
      lastSeq: seq,
      ready: false,
      alive: true,
      channels: new Set(),
      channelsAt: 0,
    };
    const set = this.conns.get(caller.workspaceId) ?? new Set<Conn>();
    set.add(conn);
    this.conns.set(caller.workspaceId, set);
    await this.presence.connected(caller.workspaceId, caller.agentId);
    this.send(conn, { type: 'hello', seq, agentId: caller.agentId });
    // A client that never asks to resume gets live events from the hello sequence on.
    const fallback = setTimeout(() => void this.resume(conn, seq), RESUME_WAIT_MS);
    ws.on('pong', () => (conn.alive = true));
    ws.on('message', (data) => {
      conn.alive = true;
      let frame;
      try {
        frame = clientFrameSchema.parse(
          JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : ''),
        );
      } catch {
        return;
      }
      if (frame.type === 'ping') this.send(conn, { type: 'pong', at: this.ctx.now() });
      else if (!conn.ready) {
        clearTimeout(fallback);
        void this.resume(conn, frame.lastSeq);
      }
    });
    ws.on('close', () => {
      clearTimeout(fallback);
      set.delete(conn);
      if (!this.closing) void this.presence.disconnected(caller.workspaceId, caller.agentId);
    });
  }

  /** Replays what the client missed since `lastSeq`, or tells it to resync when that is gone. */
  private async resume(conn: Conn, lastSeq: number): Promise<void> {
    if (conn.ready) return;
    const { db } = this.ctx;
    const ws = conn.caller.workspaceId;
    const [current, oldest] = await Promise.all([currentSeq(db, ws), oldestKeptSeq(db, ws)]);
    if (
      lastSeq > current ||
      (oldest > 0 && lastSeq < oldest - 1) ||
      (oldest === 0 && lastSeq < current)
    ) {
      conn.lastSeq = current;
      conn.ready = true;
      this.send(conn, { type: 'resync', seq: current });
    } else {
      conn.lastSeq = lastSeq;
      let replayed = 0;
      for (;;) {
        const events = await readEvents(db, ws, conn.lastSeq);
        if (events.length === 0) break;
        replayed += await this.deliver(conn, events);
      }
      conn.ready = true;
      this.send(conn, { type: 'resumed', seq: conn.lastSeq, replayed });
    }
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

  private async deliver(conn: Conn, events: StoredEvent[]): Promise<number> {
    let sent = 0;
    for (const ev of events) {
      if (ev.seq <= conn.lastSeq) continue;
      if (await this.visible(conn, ev)) {
        this.send(conn, { type: 'event', seq: ev.seq, event: ev.event, at: ev.at });
        sent++;
      }
      conn.lastSeq = ev.seq;
    }
    return sent;
  }

  /** Sends every ready socket of a workspace the events after its last sequence. */
  private async pump(workspaceId: string): Promise<void> {
    const set = this.conns.get(workspaceId);
    if (!set || set.size === 0) return;
    for (;;) {
      const ready = [...set].filter((c) => c.ready);
      if (ready.length === 0) return;
      const from = Math.min(...ready.map((c) => c.lastSeq));
      const events = await readEvents(this.ctx.db, workspaceId, from);
      if (events.length === 0) return;
      for (const conn of ready) await this.deliver(conn, events);
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
  }

  /** Safety net for lost notifications: pump every workspace with sockets. */
  pumpAll(): void {
    for (const ws of this.conns.keys()) void this.pumps.run(ws, () => this.pump(ws));
  }
}
