import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import type { AppContext } from '../../context';
import { AppError } from '../../errors';
import { fromOwnOrigin } from '../../http/origin';
import { authenticateToken, sessionCookie, type Caller } from '../agents/auth';
import { nextTurn } from './gateway-room';

export const WS_PATH = '/api/ws';

/**
 * Upgrades authenticated per turn of the event loop. Node hands a whole poll phase of upgrade
 * requests over back to back, and each one's session lookup (synchronous on SQLite), 101 and
 * hello ran in the same turn: 5,000 reconnecting sockets held the loop (and every push) for over
 * a second. Queued and taken a batch per turn, the storm is spread over many short turns.
 */
const UPGRADES_PER_TURN = 64;

/** An upgrade waiting for its session to be looked up. */
interface Waiting {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  token: string | null;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  503: 'Service Unavailable',
};

/** Answers an upgrade we will not accept, then closes the connection once the answer is out. */
function refuse(socket: Duplex, status: number): void {
  if (socket.destroyed) return;
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n',
  );
}

function pathOf(req: IncomingMessage): string | null {
  try {
    return new URL(req.url ?? '/', 'http://x').pathname;
  } catch {
    return null;
  }
}

/**
 * The session an upgrade carries: `Authorization: Bearer` (scripts, tests) or the session cookie
 * (the console). Never the URL: a token there ends up in access logs and browser history. A
 * browser attaches the cookie to any page's WebSocket, so a cookie upgrade must come from our
 * own origin (cross-site WebSocket hijacking); a bearer header proves that by itself.
 */
function credentialOf(req: IncomingMessage, ctx: AppContext): { token: string | null } | 'csrf' {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return { token: header.slice(7).trim() || null };
  const token = sessionCookie(req.headers);
  if (token && !fromOwnOrigin(req.headers, ctx.config)) return 'csrf';
  return { token };
}

/**
 * Every raw connection that asks to upgrade gets an answer: 101 on /api/ws with a good session,
 * else a status and a closed socket (an unanswered one sits in CLOSE_WAIT and holds shutdown).
 * Sockets still authenticating are tracked so that `close()` can end them.
 */
export class UpgradeGate {
  private readonly pending = new Set<Duplex>();
  private queue: Waiting[] = [];
  private draining = false;
  private closing = false;

  constructor(
    private readonly ctx: AppContext,
    private readonly wss: WebSocketServer,
    private readonly open: (ws: WebSocket, socket: Duplex, caller: Caller) => void,
  ) {}

  /** The http server's `upgrade` listener; it never throws. */
  readonly handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    this.guard(socket);
    try {
      if (this.closing) return refuse(socket, 503);
      if (pathOf(req) !== WS_PATH) return refuse(socket, 404);
      const credential = credentialOf(req, this.ctx);
      if (credential === 'csrf') return refuse(socket, 403);
      this.queue.push({ req, socket, head, token: credential.token });
      if (!this.draining) void this.drain();
    } catch (err) {
      this.ctx.log.warn({ err }, 'upgrade failed');
      socket.destroy();
    }
  };

  /**
   * Starts the session lookups of queued upgrades a batch per turn. A lone upgrade starts at
   * once; the turn after it lets the rest of a burst queue up behind it. A batch is not waited
   * for: a slow lookup (PostgreSQL, a busy database) must not leave the loop idle.
   */
  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0 && !this.closing) {
        for (const w of this.queue.splice(0, UPGRADES_PER_TURN)) void this.authenticate(w);
        await nextTurn();
      }
    } finally {
      this.draining = false;
    }
  }

  private authenticate({ req, socket, head, token }: Waiting): Promise<void> {
    // Gone while it waited (the client gave up): nothing to look up.
    if (socket.destroyed) return Promise.resolve();
    return authenticateToken(this.ctx, token)
      .then(
        (caller) => this.accept(req, socket, head, caller),
        (err: unknown) => {
          if (!(err instanceof AppError)) this.ctx.log.warn({ err }, 'upgrade auth failed');
          refuse(socket, err instanceof AppError ? err.status : 503);
        },
      )
      .catch((err: unknown) => {
        this.ctx.log.warn({ err }, 'upgrade failed');
        socket.destroy();
      });
  }

  /**
   * Node drops its own error listener from a socket it hands to `upgrade`: without this one, a
   * reset while we authenticate is an uncaught 'error' that ends the process. The listeners live
   * as long as the socket, so they are made here, where they can capture nothing but the socket
   * (made in `handle`, they would keep its request and head buffer alive: +2.3 KB a socket).
   */
  private guard(socket: Duplex): void {
    socket.on('error', (err) => {
      this.ctx.log.debug({ err }, 'upgrade socket error');
      socket.destroy();
    });
    this.pending.add(socket);
    socket.once('close', () => this.pending.delete(socket));
  }

  private accept(req: IncomingMessage, socket: Duplex, head: Buffer, caller: Caller): void {
    // The client may have gone (or we may be shutting down) while the session was looked up.
    if (this.closing || socket.destroyed || !socket.writable) return void socket.destroy();
    try {
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.pending.delete(socket);
        this.open(ws, socket, caller);
      });
    } catch (err) {
      this.ctx.log.warn({ err }, 'upgrade failed');
      socket.destroy();
    }
  }

  /** Refuses new upgrades and ends those still being answered. */
  close(): void {
    this.closing = true;
    this.queue = [];
    for (const socket of this.pending) socket.destroy();
    this.pending.clear();
  }
}
