import http from 'node:http';
import { Latencies, now, type Summary } from './lib';

/** One HTTP request the generator will send, built before any clock starts. */
export interface RequestSpec {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface Outcome {
  status: number;
  body: string;
  /** 'timeout' when the client gave up, or the network error. */
  error?: string;
}

// Every connection WeChat opens is its own: no cap on sockets, so the server sees all the load.
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, keepAliveMsecs: 10_000 });

/** Sends one request; a request unanswered after `timeoutMs` is abandoned (the client gave up). */
export function send(spec: RequestSpec, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (o: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const body = spec.body === undefined ? undefined : Buffer.from(spec.body, 'utf8');
    const req = http.request(spec.url, {
      method: spec.method,
      agent,
      headers: { ...spec.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
    });
    const timer = setTimeout(() => {
      finish({ status: 0, body: '', error: 'timeout' });
      req.destroy();
    }, timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', (err) => finish({ status: 0, body: '', error: err.message }));
    });
    req.on('error', (err) => finish({ status: 0, body: '', error: err.message }));
    req.end(body);
  });
}

/** What a run of requests came to; latencies are from each request's intended send time. */
export interface RunResult {
  offered: number;
  /** Answered 200 `success` (for pushes) or 2xx (for API calls). */
  ok: number;
  statuses: Record<string, number>;
  timeouts: number;
  errors: number;
  /** Requests whose answer came (or did not come) more than 4 s after their intended time. */
  heldOver4s: number;
  /** The held ones by how they ended (status, `timeout` or `error`). */
  heldBy: Record<string, number>;
  /** Every request, failures included (a timeout counts as its timeout). */
  latency: Summary;
  /** How late the generator itself sent, at worst: its own lag, not the server's. */
  maxSendLagMs: number;
  elapsedMs: number;
  /** Per request: 1 ok, 0 refused or failed with an answer, -1 the client gave up. */
  fate: Int8Array;
}

const isOk = (spec: RequestSpec, o: Outcome) =>
  spec.method === 'POST' && spec.url.includes('/wechat/')
    ? o.status === 200 && (o.body === 'success' || o.body === '')
    : o.status >= 200 && o.status < 300;

class Tally {
  readonly lat = new Latencies();
  readonly statuses: Record<string, number> = {};
  ok = 0;
  timeouts = 0;
  errors = 0;
  held = 0;
  readonly heldBy: Record<string, number> = {};
  constructor(readonly fate: Int8Array) {}

  add(i: number, spec: RequestSpec, o: Outcome, ms: number): void {
    this.lat.record(ms);
    const key = o.error === 'timeout' ? 'timeout' : o.error ? 'error' : String(o.status);
    if (ms > 4000) {
      this.held++;
      this.heldBy[key] = (this.heldBy[key] ?? 0) + 1;
    }
    this.statuses[key] = (this.statuses[key] ?? 0) + 1;
    if (o.error === 'timeout') this.timeouts++;
    else if (o.error) this.errors++;
    const ok = !o.error && isOk(spec, o);
    if (ok) this.ok++;
    this.fate[i] = ok ? 1 : o.error === 'timeout' ? -1 : 0;
  }

  result(offered: number, maxSendLagMs: number, elapsedMs: number): RunResult {
    return {
      offered,
      ok: this.ok,
      statuses: this.statuses,
      timeouts: this.timeouts,
      errors: this.errors,
      heldOver4s: this.held,
      heldBy: this.heldBy,
      latency: this.lat.summary(),
      maxSendLagMs,
      elapsedMs,
      fate: this.fate,
    };
  }
}

/**
 * Open loop: request i is due at start + i / rate whatever happened to the earlier ones, and its
 * latency runs from that intended moment (no coordinated omission: a stalled server is charged
 * for all the time the requests waited, including the time before they could be sent).
 * `onDue(i, intendedPerfMs)` runs just before request i is sent.
 */
export async function runOpen(
  specs: RequestSpec[],
  rate: number,
  timeoutMs: number,
  onDue: (i: number, intended: number) => void = () => undefined,
): Promise<RunResult> {
  const tally = new Tally(new Int8Array(specs.length));
  const interval = 1000 / rate;
  const start = now() + 20;
  let next = 0;
  let maxLag = 0;
  const inFlight: Promise<void>[] = [];
  await new Promise<void>((resolve) => {
    const tick = () => {
      const t = now();
      while (next < specs.length && start + next * interval <= t) {
        const i = next++;
        const intended = start + i * interval;
        maxLag = Math.max(maxLag, t - intended);
        onDue(i, intended);
        inFlight.push(
          send(specs[i]!, timeoutMs).then((o) => tally.add(i, specs[i]!, o, now() - intended)),
        );
      }
      if (next < specs.length)
        setTimeout(tick, Math.min(5, Math.max(0, start + next * interval - now())));
      else resolve();
    };
    setTimeout(tick, 20);
  });
  await Promise.all(inFlight);
  return tally.result(specs.length, maxLag, now() - start);
}

/**
 * Closed loop with `concurrency` in flight: the most the server gets through (capacity), each
 * request sent once; stops at the end of `specs` or after `durationMs`.
 */
export async function runClosed(
  specs: RequestSpec[],
  concurrency: number,
  timeoutMs: number,
  durationMs: number,
  onSend: (i: number, at: number) => void = () => undefined,
): Promise<RunResult & { perSecond: number }> {
  const tally = new Tally(new Int8Array(specs.length));
  const start = now();
  let next = 0;
  const worker = async () => {
    while (next < specs.length && now() - start < durationMs) {
      const i = next++;
      const t0 = now();
      onSend(i, t0);
      const o = await send(specs[i]!, timeoutMs);
      tally.add(i, specs[i]!, o, now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = now() - start;
  return { ...tally.result(next, 0, elapsed), perSecond: (tally.ok / elapsed) * 1000 };
}
