import http, { type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyServerFactory } from 'fastify';
import { ERROR_CODES } from '@kefu/shared';
import { arrivalOf } from './arrival';
import { PushLimiter } from './push-limit';
import { CONSOLE_CSP, SECURITY_HEADERS } from './security-headers';

/** What the gate asks the ingest writer: how long a push arriving now would wait to commit. */
export interface PushAdmission {
  expectedWaitMs(arrivedAt?: number): number;
}

const SUMMARY_MS = 10_000;

/**
 * Refuses pushes in front of Fastify when Kefu is overloaded, and counts what it refuses.
 *
 * Under overload the refusal itself must be cheap: a refused push that costs as much CPU as a
 * stored one (routing, hooks, an error object, an error log line with its stack) keeps the loop
 * saturated, its turns long, and (Node accepts one connection per listener per turn) new
 * connections waiting in the kernel, where no expected-wait estimate can see them. So a push
 * (POST /wechat/…) that would wait past `pushMaxWaitMs` is answered 503 right in the server's
 * request listener with a small body built on the spot (no error object, no stack); the route
 * checks again (app.inject() and pushes that queued meanwhile). WeChat retries a 503 like any
 * failure; the dedupe key keeps it single.
 *
 * Under sustained overload the expected wait alone lets in too much: see push-limit.ts.
 *
 * Refusals are not logged one by one (a flood of them would be a flood of lines): one summary
 * line per ten seconds says how many and how long the wait was.
 */
export class PushGate {
  #admission: PushAdmission | null = null;
  #log: Pick<FastifyBaseLogger, 'warn'> | null = null;
  #refused = 0;
  #worstWaitMs = 0;
  #timer: NodeJS.Timeout | null = null;
  #limiter: PushLimiter | null = null;

  /**
   * `maxWaitMs`: the longest expected wait let in; `busyMax`: the event-loop utilization past
   * which, with a queue building, the admitted rate is cut (see push-limit.ts; ≥ 1 = never).
   */
  constructor(
    private readonly maxWaitMs: number,
    private readonly busyMax = 1,
  ) {}

  /** Starts gating once the writer exists (it is built after Fastify). */
  attach(admission: PushAdmission, log: Pick<FastifyBaseLogger, 'warn'>): void {
    this.#admission = admission;
    this.#log = log;
    this.#limiter = new PushLimiter(this.busyMax, () => admission.expectedWaitMs());
    this.#timer = setInterval(() => this.#summarize(), SUMMARY_MS);
    this.#timer.unref();
  }

  /** For Fastify's `serverFactory`: the plain HTTP server, with the gate before Fastify. */
  readonly factory: FastifyServerFactory = (handler, opts) => {
    const listener: RequestListener = (req, res) => {
      if (!this.#shed(req, res)) handler(req, res);
    };
    const server = http.createServer(listener);
    // What Fastify would set on a server it made itself (its options, defaults applied).
    const o = opts as {
      keepAliveTimeout?: number;
      requestTimeout?: number;
      connectionTimeout?: number;
    };
    server.keepAliveTimeout = o.keepAliveTimeout ?? 72_000;
    server.requestTimeout = o.requestTimeout ?? 0;
    server.setTimeout(o.connectionTimeout ?? 0);
    return server;
  };

  /** Counts a refusal made elsewhere (the route, the writer), for the summary line. */
  count(expectedWaitMs = 0): void {
    this.#refused++;
    this.#worstWaitMs = Math.max(this.#worstWaitMs, expectedWaitMs);
  }

  /** Stops the summary timer, logging what is still counted. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#limiter?.stop();
    this.#summarize();
  }

  #shed(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.#admission || req.method !== 'POST' || !req.url?.startsWith('/wechat/')) return false;
    const expected = this.#admission.expectedWaitMs(arrivalOf(req));
    if (expected <= this.maxWaitMs && this.#limiter?.take() !== false) return false;
    const waited = Math.round(expected);
    this.count(waited);
    const body = JSON.stringify({
      code: 'PUSH_OVERLOADED',
      message: ERROR_CODES.PUSH_OVERLOADED.message,
      details: { expectedWaitMs: waited },
    });
    res.writeHead(503, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'retry-after': '1',
      'cache-control': 'no-store',
      'content-security-policy': CONSOLE_CSP,
      ...SECURITY_HEADERS,
    });
    // The unread body is discarded by Node before the connection takes its next request.
    res.end(body);
    return true;
  }

  #summarize(): void {
    if (this.#refused === 0) return;
    this.#log?.warn(
      {
        code: 'PUSH_OVERLOADED',
        refused: this.#refused,
        worstExpectedWaitMs: this.#worstWaitMs,
        periodMs: SUMMARY_MS,
      },
      'pushes refused: overloaded (WeChat retries them)',
    );
    this.#refused = 0;
    this.#worstWaitMs = 0;
  }
}
