import type { ServerFrame } from '@kefu/shared';
import WebSocket from 'ws';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { code?: string; message?: string; details?: Record<string, unknown> },
  ) {
    super(`${status} ${body.code ?? ''} ${body.message ?? ''}`);
  }
}

/** A real HTTP client for one signed-in agent (tests and benchmarks). */
export class ApiClient {
  agentId = '';
  constructor(
    readonly base: string,
    readonly token: string,
  ) {}

  static async login(base: string, login: string, password: string): Promise<ApiClient> {
    const anon = new ApiClient(base, '');
    const res = await anon.post<{ token: string; agent: { id: string } }>('/api/auth/login', {
      login,
      password,
    });
    const client = new ApiClient(base, res.token);
    client.agentId = res.agent.id;
    return client;
  }

  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const isBuffer = Buffer.isBuffer(body);
    const res = await fetch(this.base + path, {
      method,
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(body !== undefined && !isBuffer ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined
        ? { body: isBuffer ? new Uint8Array(body) : JSON.stringify(body) }
        : {}),
    });
    const text = await res.text();
    const data =
      text && res.headers.get('content-type')?.includes('json')
        ? (JSON.parse(text) as unknown)
        : text;
    if (!res.ok) throw new ApiError(res.status, data || {});
    return data as T;
  }

  get<T = any>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    return this.request<T>('POST', path, body ?? {}, headers);
  }
  put<T = any>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }
  patch<T = any>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }

  /** Expects the call to fail; returns the status and error body. */
  async fails(p: Promise<unknown>): Promise<ApiError> {
    try {
      await p;
    } catch (err) {
      if (err instanceof ApiError) return err;
      throw err;
    }
    throw new Error('expected the request to fail');
  }

  /** Opens the realtime socket and records every frame. */
  async socket(lastSeq?: number): Promise<RealtimeClient> {
    const ws = new WebSocket(`${this.base.replace(/^http/, 'ws')}/api/ws`, {
      headers: { authorization: `Bearer ${this.token}` },
    });
    const rt = new RealtimeClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const hello = await rt.next((f) => f.type === 'hello');
    ws.send(JSON.stringify({ type: 'resume', lastSeq: lastSeq ?? hello.seq }));
    await rt.next((f) => f.type === 'resumed' || f.type === 'resync');
    return rt;
  }
}

export class RealtimeClient {
  readonly frames: ServerFrame[] = [];
  private waiters: { pred: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void }[] = [];
  lastSeq = 0;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString('utf8')) as ServerFrame;
      this.frames.push(frame);
      if ('seq' in frame) this.lastSeq = Math.max(this.lastSeq, frame.seq);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
  }

  /** Resolves with the first frame (already received or future) matching `pred`. */
  next<F extends ServerFrame = ServerFrame>(
    pred: (f: ServerFrame) => boolean,
    timeoutMs = 10_000,
  ): Promise<F & { seq: number }> {
    const seen = this.frames.find(pred);
    if (seen) return Promise.resolve(seen as F & { seq: number });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a frame')), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (f) => (clearTimeout(timer), resolve(f as F & { seq: number })),
      });
    });
  }

  /** Waits for an event by name (and optional predicate on its data). */
  event(name: string, pred: (data: any) => boolean = () => true, timeoutMs = 10_000): Promise<any> {
    return this.next(
      (f) => f.type === 'event' && f.event.name === name && pred(f.event.data),
      timeoutMs,
    ).then((f) => (f as any).event.data);
  }

  events(): { seq: number; name: string; data: any }[] {
    return this.frames.flatMap((f) =>
      f.type === 'event' ? [{ seq: f.seq, name: f.event.name, data: f.event.data as any }] : [],
    );
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
