import type { Queryable } from '../../db/index';
import { currentSeq, oldestKeptSeq } from './event-log';
import type { Conn } from './gateway-conn';
import { StreamTail, tick } from './stream-tail';
import { VisibilityView } from './visibility';

/** Loops over sockets give the event loop back this often, so a storm never stalls pushes. */
export const SOCKETS_PER_TURN = 256;

/** Resolves on the next turn of the event loop (after pending I/O). */
export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A workspace's sockets on this node, its recent events, and who may see them. */
export interface Room {
  conns: Set<Conn>;
  tail: StreamTail;
  view: VisibilityView;
  /** No socket at the last heartbeat: dropped at the next one if still empty. */
  idle: boolean;
}

/** An empty room; its view listens to its tail for access changes. */
export function newRoom(db: Queryable, workspaceId: string): Room {
  const tail = new StreamTail(db, workspaceId);
  return { conns: new Set(), tail, view: new VisibilityView(db, workspaceId, tail), idle: false };
}

/**
 * Whether a resume from `lastSeq` must be answered with `resync`: a sequence from the future, or
 * one whose following events were pruned. Inside the tail's window it is known to be real.
 */
export async function mustResync(
  db: Queryable,
  room: Room,
  workspaceId: string,
  lastSeq: number,
): Promise<boolean> {
  if (room.tail.covers(lastSeq)) return false;
  const [current, oldest] = await Promise.all([
    currentSeq(db, workspaceId),
    oldestKeptSeq(db, workspaceId),
  ]);
  return (
    lastSeq > current || (oldest > 0 && lastSeq < oldest - 1) || (oldest === 0 && lastSeq < current)
  );
}

/**
 * One pump of a room: reads what was committed since the last, reloads the agents whose access
 * changed in it (nobody else: access is loaded once per agent, see VisibilityView), then lets
 * `flush` write each ready socket its share, yielding every SOCKETS_PER_TURN sockets.
 */
export async function pumpRoom(room: Room, flush: (conn: Conn) => void): Promise<void> {
  if (room.conns.size === 0 || !room.tail.ready) return;
  const { tail, view } = room;
  await tail.sync(tick());
  await view.ensure();
  const conns = [...room.conns];
  for (let i = 0; i < conns.length; i++) {
    const conn = conns[i]!;
    if (conn.ready && room.conns.has(conn)) flush(conn);
    if (i % SOCKETS_PER_TURN === SOCKETS_PER_TURN - 1) await nextTurn();
  }
  // Keep what a socket still wants (resuming ones included); the budget bounds it anyway.
  let keep = tail.to;
  for (const conn of room.conns) if (conn.resuming) keep = Math.min(keep, conn.lastSeq);
  tail.trim(keep);
}

/**
 * The heartbeat's walk: pings every socket, terminates those that did not answer the last ping,
 * and drops rooms that stayed empty for a whole beat (a room's tail is only a cache).
 */
export async function beatRooms(rooms: Map<string, Room>): Promise<void> {
  let n = 0;
  for (const [workspaceId, room] of [...rooms]) {
    if (room.conns.size === 0) {
      if (room.idle) rooms.delete(workspaceId);
      room.idle = true;
      continue;
    }
    room.idle = false;
    for (const conn of [...room.conns]) {
      if (!conn.alive) conn.ws.terminate();
      else {
        conn.alive = false;
        conn.ws.ping();
      }
      if (++n % SOCKETS_PER_TURN === 0) await nextTurn();
    }
  }
}
