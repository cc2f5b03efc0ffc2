import { clientFrameSchema, type ClientFrame, type ServerFrame } from '@kefu/shared';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import type { Caller } from '../agents/auth';
import type { StoredEvent } from './event-log';

/** Client frames are tiny (`ping`, `resume`); anything larger is hostile. */
export const MAX_CLIENT_FRAME = 4 * 1024;
/** Client frames allowed per socket: a burst, then a steady rate; the rest are ignored. */
const FRAME_BURST = 20;
const FRAMES_PER_SECOND = 2;

/** One console socket and where its stream stands. */
export interface Conn {
  ws: WebSocket;
  /** The TCP socket under `ws`: shared event frames are written to it pre-framed, corked. */
  socket: Duplex;
  caller: Caller;
  /** Last sequence delivered (or skipped as not visible) on this socket. */
  lastSeq: number;
  /** True once a resume (or its fallback) has started: the first one wins. */
  resuming: boolean;
  /** False until the resume handshake has replayed what the client missed. */
  ready: boolean;
  /** Answered the last heartbeat ping. Only a pong counts: it proves the client reads. */
  alive: boolean;
  /** Counted in presence (so the close must be uncounted). */
  counted: boolean;
  fallback: NodeJS.Timeout | undefined;
  /** A resume that arrived before the hello was ready; it starts right after the hello. */
  early: number | null;
  /** Client frames still allowed, refilled at FRAMES_PER_SECOND. */
  budget: number;
  budgetAt: number;
}

/** A socket's state before its hello. */
export function newConn(ws: WebSocket, socket: Duplex, caller: Caller): Conn {
  return {
    ws,
    socket,
    caller,
    lastSeq: 0,
    resuming: false,
    ready: false,
    alive: true,
    counted: false,
    fallback: undefined,
    early: null,
    budget: FRAME_BURST,
    budgetAt: performance.now(),
  };
}

/** Token bucket: a client spamming frames is ignored, not answered. */
function allowFrame(conn: Conn): boolean {
  const now = performance.now();
  conn.budget = Math.min(
    FRAME_BURST,
    conn.budget + ((now - conn.budgetAt) / 1000) * FRAMES_PER_SECOND,
  );
  conn.budgetAt = now;
  if (conn.budget < 1) return false;
  conn.budget -= 1;
  return true;
}

/** The client frame a message carries, or null for anything else (never throws). */
export function clientFrameOf(conn: Conn, data: RawData, isBinary: boolean): ClientFrame | null {
  if (isBinary || !Buffer.isBuffer(data) || !allowFrame(conn)) return null;
  let json: unknown;
  try {
    json = JSON.parse(data.toString('utf8'));
  } catch {
    return null;
  }
  const parsed = clientFrameSchema.safeParse(json);
  return parsed.success ? parsed.data : null;
}

/** The wire frame of a stored event. */
export function frameOf(ev: StoredEvent): ServerFrame {
  return { type: 'event', seq: ev.seq, event: ev.event, at: ev.at };
}
