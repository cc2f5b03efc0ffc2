import type { Server } from 'node:http';
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

type Marked = Socket & { [ACCEPTED]?: number; [REQUESTS]?: number };

/** Stamps each accepted connection with its accept time. */
export function trackArrivals(server: Server): void {
  server.on('connection', (socket: Marked) => {
    socket[ACCEPTED] = performance.now();
  });
}

/** The accept time (performance.now()) if this is the connection's first request. */
export function arrivalOf(socket: Socket | undefined): number | undefined {
  const s: Marked | undefined = socket;
  const accepted = s?.[ACCEPTED];
  if (!s || accepted === undefined) return undefined;
  const n = (s[REQUESTS] ?? 0) + 1;
  s[REQUESTS] = n;
  return n === 1 ? accepted : undefined;
}
