import type { ClientFrame, ServerFrame } from '@kefu/shared';

export type SocketState = 'connecting' | 'open' | 'closed';

export interface SocketHandlers {
  frame(frame: ServerFrame): void;
  state(state: SocketState): void;
  /** The socket closed before its first frame: maybe the session expired. */
  rejected(): void;
}

const PING_MS = 20_000;
/** No frame at all (pongs included) for this long means the socket is dead. */
const SILENCE_MS = 45_000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10_000;
/** The server closed the socket because the session ended (server `CLOSE.SIGNED_OUT`). */
const CLOSE_SIGNED_OUT = 4001;

/**
 * One WebSocket to `/api/ws` that reconnects by itself with exponential backoff (0.5 s → 10 s,
 * jittered), pings every 20 s and drops a silent socket. What to send on (re)connect is up to
 * the caller, which sees every frame.
 */
export class RealtimeSocket {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private lastFrameAt = 0;
  private stopped = true;
  private gotFrame = false;
  private lastPingAt = 0;
  private openedAt = 0;

  /** The first argument is unused: the browser sends the session cookie with the upgrade. */
  constructor(
    _tokenOf: () => string | null,
    private readonly handlers: SocketHandlers,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this.onOnline);
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.retryTimer);
    this.teardown();
  }

  send(frame: ClientFrame): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  /** Reconnect now instead of waiting for the backoff. */
  reconnectNow(): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.teardown();
    this.connect();
  }

  private readonly onOnline = () => {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) this.reconnectNow();
  };

  private connect(): void {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    this.gotFrame = false;
    this.handlers.state('connecting');
    const ws = new WebSocket(`${proto}//${location.host}/api/ws`);
    this.ws = ws;
    this.lastFrameAt = Date.now();
    this.lastPingAt = Date.now();
    this.pingTimer = setInterval(() => this.heartbeat(), PING_MS / 4);
    ws.onmessage = (ev: MessageEvent) => {
      if (ws !== this.ws) return;
      this.lastFrameAt = Date.now();
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(ev.data)) as ServerFrame;
      } catch {
        return;
      }
      if (!this.gotFrame) {
        this.gotFrame = true;
        this.openedAt = Date.now();
        this.handlers.state('open');
      }
      this.handlers.frame(frame);
    };
    ws.onclose = (ev: CloseEvent) => {
      if (ws !== this.ws) return;
      // Signed out, disabled or password reset: retrying would only be refused. The caller
      // checks the session (and signs the console out); start() after sign-in connects again.
      if (ev.code === CLOSE_SIGNED_OUT) {
        this.teardown();
        this.stopped = true;
        this.handlers.state('closed');
        this.handlers.rejected();
      } else this.dropAndRetry();
    };
  }

  /** Give up on this connection (the caller could not use it) and retry with backoff. */
  fail(): void {
    if (!this.stopped && this.ws) this.dropAndRetry();
  }

  private dropAndRetry(): void {
    const hadFrame = this.gotFrame;
    // Only a connection that lasted resets the backoff: one that fails at once keeps growing it.
    if (hadFrame && Date.now() - this.openedAt > 10_000) this.attempt = 0;
    this.teardown();
    this.handlers.state('closed');
    if (!hadFrame) this.handlers.rejected();
    this.scheduleRetry();
  }

  private heartbeat(): void {
    // A dead TCP connection may never fire `close`: give up on it ourselves.
    if (Date.now() - this.lastFrameAt > SILENCE_MS) {
      this.dropAndRetry();
      return;
    }
    if (Date.now() - this.lastPingAt >= PING_MS) {
      this.lastPingAt = Date.now();
      this.send({ type: 'ping' });
    }
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    this.attempt += 1;
    const delay = base / 2 + Math.random() * (base / 2);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private teardown(): void {
    clearInterval(this.pingTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close();
    }
  }
}
