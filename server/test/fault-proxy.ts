import net from 'node:net';

/**
 * How the proxy treats traffic: `pass` forwards (after `delayMs`), `drop` resets every new
 * connection at once (live ones go on), `blackhole` accepts and forwards nothing in either
 * direction, live connections included (bytes are held, as TCP would retransmit them, and flow
 * again once the mode changes back).
 */
export type ProxyMode = 'pass' | 'drop' | 'blackhole';

export interface ProxyStats {
  accepted: number;
  /** New connections reset because the mode was `drop` or the target refused them. */
  dropped: number;
  /** Live connections reset by resetAll. */
  reset: number;
}

/** Bytes travelling one way through a link, released in order once due and not held. */
class Pipe {
  private readonly queue: { due: number; chunk: Buffer }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    private readonly proxy: FaultProxy,
    private readonly to: () => net.Socket | undefined,
  ) {}

  push(chunk: Buffer): void {
    const to = this.to();
    // Fast path: passing without delay and nothing queued ahead, so order is kept.
    if (
      this.proxy.delayMs === 0 &&
      this.proxy.mode !== 'blackhole' &&
      this.queue.length === 0 &&
      to &&
      !to.connecting &&
      !to.destroyed
    ) {
      to.write(chunk);
      return;
    }
    this.queue.push({ due: Date.now() + this.proxy.delayMs, chunk });
    this.pump();
  }

  end(): void {
    this.ended = true;
    this.pump();
  }

  /** Writes every due chunk; re-arms a timer for the next one; ends `to` once drained. */
  pump(): void {
    const to = this.to();
    if (!to || to.destroyed || this.proxy.mode === 'blackhole') return;
    const now = Date.now();
    while (this.queue.length > 0 && this.queue[0]!.due <= now) to.write(this.queue.shift()!.chunk);
    if (this.queue.length > 0) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.pump(), this.queue[0]!.due - now);
    } else if (this.ended) to.end();
  }

  /** Chunks waiting to be written. */
  get held(): number {
    return this.queue.length;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.queue.length = 0;
  }
}

/** One accepted client socket and its upstream connection (made once the mode lets it). */
class Link {
  upstream: net.Socket | undefined;
  readonly up: Pipe;
  readonly down: Pipe;
  private gone = false;

  constructor(
    private readonly proxy: FaultProxy,
    readonly client: net.Socket,
  ) {
    // No Nagle: with delayed ACKs it would add ~40 ms to every small PostgreSQL or Redis reply.
    client.setNoDelay(true);
    this.up = new Pipe(proxy, () => this.upstream);
    this.down = new Pipe(proxy, () => this.client);
    client.on('data', (c: Buffer) => this.up.push(c));
    client.on('end', () => this.up.end());
    client.on('error', () => this.reset());
    client.on('close', () => this.finish());
  }

  /** Connects to the target (unless black-holed: then `resume` does it later). */
  connect(): void {
    if (this.upstream || this.gone || this.proxy.mode === 'blackhole') return;
    const upstream = net.connect({
      port: this.proxy.target.port,
      host: this.proxy.target.host,
      noDelay: true,
    });
    this.upstream = upstream;
    upstream.on('connect', () => this.up.pump());
    upstream.on('data', (c: Buffer) => this.down.push(c));
    upstream.on('end', () => this.down.end());
    upstream.on('error', () => this.reset());
    upstream.on('close', () => this.finish());
  }

  resume(): void {
    this.connect();
    this.up.pump();
    this.down.pump();
  }

  /** Both sides get an RST, as a middlebox or a crashed peer would send. */
  reset(): void {
    if (this.gone) return;
    this.gone = true;
    this.up.stop();
    this.down.stop();
    this.client.resetAndDestroy();
    this.upstream?.resetAndDestroy();
    this.proxy.forget(this);
  }

  private finish(): void {
    if (this.client.destroyed && (this.upstream?.destroyed ?? true)) {
      this.gone = true;
      this.proxy.forget(this);
    }
  }
}

/**
 * A TCP proxy for fault tests: listens on port 0 in front of one target (PostgreSQL, Redis, the
 * WeChat emulator …) and is told at runtime to pass, delay, drop, black-hole or reset.
 */
export class FaultProxy {
  mode: ProxyMode = 'pass';
  delayMs = 0;
  readonly stats: ProxyStats = { accepted: 0, dropped: 0, reset: 0 };
  private readonly links = new Set<Link>();

  private constructor(
    readonly target: { host: string; port: number },
    private readonly server: net.Server,
  ) {}

  /** Starts a proxy to `target` on 127.0.0.1, port 0. */
  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const server = net.createServer();
    const proxy = new FaultProxy(target, server);
    server.on('connection', (socket) => proxy.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    const addr = this.server.address();
    return typeof addr === 'object' && addr ? addr.port : 0;
  }

  /** Live connections. */
  get connections(): number {
    return this.links.size;
  }

  /** Forwards normally again (and releases what a black hole held). */
  pass(): void {
    this.mode = 'pass';
    this.delayMs = 0;
    for (const link of this.links) link.resume();
  }

  /** Forwards every chunk `ms` late, both ways (new and live connections). */
  delay(ms: number): void {
    this.pass();
    this.delayMs = ms;
  }

  /** Resets new connections as soon as they arrive; live ones go on. */
  drop(): void {
    this.mode = 'drop';
  }

  /** Accepts, holds every byte and never forwards until the mode changes. */
  blackhole(): void {
    this.mode = 'blackhole';
  }

  /**
   * Chunks of answers (target → client) held by a delay or a black hole right now: each is an
   * answer the target already gave that a reset would lose.
   */
  heldAnswers(): number {
    let n = 0;
    for (const link of this.links) n += link.down.held;
    return n;
  }

  /** Resets every live connection (both sides); returns how many. */
  resetAll(): number {
    const n = this.links.size;
    for (const link of [...this.links]) link.reset();
    this.stats.reset += n;
    return n;
  }

  async close(): Promise<void> {
    for (const link of [...this.links]) link.reset();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Called by a link once both of its sockets are gone. */
  forget(link: Link): void {
    this.links.delete(link);
  }

  private accept(socket: net.Socket): void {
    this.stats.accepted += 1;
    if (this.mode === 'drop') {
      this.stats.dropped += 1;
      socket.on('error', () => undefined);
      socket.resetAndDestroy();
      return;
    }
    const link = new Link(this, socket);
    this.links.add(link);
    link.connect();
  }
}
