import type { Conn } from './gateway-conn';
import { CLOSE } from './revoke';
import type { StreamTail, WireFrame } from './stream-tail';
import { mayView, type VisibilityView } from './visibility';

/** What a flush did; `close` names why the socket must now be closed. */
export interface Flushed {
  sent: number;
  /** The backlog passed the caller's limit (a replay too big for the client: resync). */
  full: boolean;
  close?: [code: number, reason: string];
}

/**
 * Writes the tail's frames after the socket's sequence that its agent may see, corked into one
 * write, the same bytes for every socket. Stops at the agent's oldest access change the view has
 * not reloaded yet (the next pump sends the rest, judged by the reloaded access; see
 * VisibilityView) and once the backlog passes `limit`;
 * past `maxBuffered` the socket must close as too slow. Synchronous: callers pace the loop.
 */
export function flushTail(
  conn: Conn,
  tail: StreamTail,
  view: VisibilityView,
  limit: number,
  maxBuffered: number,
): Flushed {
  const { ws, socket, caller } = conn;
  // Fell out of the window (a burst larger than the tail): resuming is cheaper.
  if (conn.lastSeq < tail.from)
    return { sent: 0, full: false, close: [CLOSE.TOO_SLOW, 'fell behind'] };
  const frames = tail.frames;
  let i = tail.indexAfter(conn.lastSeq);
  if (i >= frames.length) return { sent: 0, full: false };
  const access = view.of(caller.agentId);
  if (!access) return { sent: 0, full: false };
  if (!access.live) return { sent: 0, full: false, close: [CLOSE.SIGNED_OUT, 'session ended'] };
  // What a socket may see depends on the role it was opened with: it reconnects to get the new one.
  if (access.role !== caller.role)
    return { sent: 0, full: false, close: [CLOSE.REAUTHORIZE, 'role changed'] };
  const stale = view.staleFrom(caller.agentId);
  const out: Flushed = { sent: 0, full: false };
  socket.cork();
  try {
    for (; i < frames.length; i++) {
      const f: WireFrame = frames[i]!;
      if (f.seq >= stale) break;
      if (ws.bufferedAmount > limit) {
        out.full = true;
        break;
      }
      if (mayView(caller.agentId, access, f)) {
        if (ws.bufferedAmount + f.wire.length > maxBuffered) {
          out.close = [CLOSE.TOO_SLOW, 'too slow'];
          break;
        }
        socket.write(f.wire);
        out.sent++;
      }
      conn.lastSeq = f.seq;
    }
  } finally {
    socket.uncork();
  }
  return out;
}
