import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * When a request reached this process, as far as it can know. A saturated process reads
 * requests long after they arrived, but it accepts connections promptly (the listening socket
 * is drained every turn of the loop): for the first request on a connection, the accept time
 * is when the request started waiting. Later requests on a kept-alive connection have no such
 * mark (undefined): the loop's lateness stands in for their wait.
 */
const ACCEPTED = Symbol('kefu.acceptedAt');
const REQUESTS = Symbol('kefu.requests');
const ARRIVED = Symbol('kefu.arrivedAt');

type Marked = Socket & { [ACCEPTED]?: number; [REQUESTS]?: number };
type MarkedRequest = IncomingMessage & { [ARRIVED]?: number | null };

/** Stamps each accepted connection with its accept time. */
export function trackArrivals(server: Server): void {
  server.on('connection', (socket: Marked) => {
    socket[ACCEPTED] = performance.now();
  });
}

/**
 * The accept time (performance.now()) if `req` is its connection's first request, else
 * undefined. Asked again for the same request, it gives the same answer.
 */
export function arrivalOf(req: IncomingMessage): number | undefined {
  const r: MarkedRequest = req;
  if (r[ARRIVED] !== undefined) return r[ARRIVED] ?? undefined;
  const s: Marked = req.socket;
  const accepted = s[ACCEPTED];
  const n = (s[REQUESTS] ?? 0) + 1;
  s[REQUESTS] = n;
  r[ARRIVED] = n === 1 && accepted !== undefined ? accepted : null;
  return r[ARRIVED] ?? undefined;
}
