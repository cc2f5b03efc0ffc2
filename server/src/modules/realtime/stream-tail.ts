import type { Queryable } from '../../db/index';
import { readEvents, type StoredEvent } from './event-log';
import { frameOf } from './gateway-conn';

let clock = 0;
/**
 * A logical clock for "did this read start after that one finished". Reads and view loads are
 * stamped when they start, results when they arrive; a query that starts (in JS) after a stamp
 * runs on the database after everything committed before it.
 */
export function tick(): number {
  return ++clock;
}

/** One event, serialized once for every socket: a complete WebSocket text frame. */
export interface WireFrame {
  seq: number;
  /** The event's name (`agent.access_changed` frames make the visibility view reload an agent). */
  name: string;
  channelId: string | null;
  agentId: string | null;
  /** Header and JSON payload in one buffer, written as is to each socket that may see it. */
  wire: Buffer;
  /**
   * `tick()` when the read that fetched it returned: the event committed before this, so an
   * access load stamped later sees everything committed with it.
   */
  readAt: number;
}

const PAGE = 500;
/** The tail keeps about this many recent events per workspace (and at most this many bytes). */
const KEEP_EVENTS = 5_000;
const KEEP_BYTES = 8 * 1024 * 1024;
/** Past this, the front goes even if a slow resume still wanted it (it then resyncs). */
const HARD_EVENTS = 4 * KEEP_EVENTS;

/** The header of an unmasked, final, unfragmented text frame carrying `length` bytes. */
function textHeader(length: number): Buffer {
  if (length < 126) return Buffer.from([0x81, length]);
  if (length < 65536) {
    const h = Buffer.allocUnsafe(4);
    h[0] = 0x81;
    h[1] = 126;
    h.writeUInt16BE(length, 2);
    return h;
  }
  const h = Buffer.allocUnsafe(10);
  h[0] = 0x81;
  h[1] = 127;
  h.writeBigUInt64BE(BigInt(length), 2);
  return h;
}

/** A stored event as the frame every socket gets: one JSON.stringify, one buffer. */
export function wireFrameOf(ev: StoredEvent, readAt: number): WireFrame {
  const payload = Buffer.from(JSON.stringify(frameOf(ev)), 'utf8');
  return {
    seq: ev.seq,
    name: ev.event.name,
    channelId: ev.channelId,
    agentId: ev.agentId,
    wire: Buffer.concat([textHeader(payload.length), payload]),
    readAt,
  };
}

/**
 * The recent end of one workspace's event stream in memory, serialized once: holds every event
 * with `from < seq <= to`, in order. It relies on the event log's invariant (sequence order is
 * commit order, so a read of `seq > n` returns every event after n committed before it began):
 * appending what such a read returns keeps the window gap-free. Pumps and resumes share it, so a
 * storm of reconnects replays from memory instead of one database read per socket.
 */
export class StreamTail {
  frames: WireFrame[] = [];
  private bytes = 0;
  private syncedAt = 0;
  private syncing: { stamp: number; promise: Promise<void> } | null = null;
  private filling: Promise<boolean> | null = null;
  private started = false;
  /**
   * Told of every frame appended at the new end, synchronously, in sequence order. Not of frames
   * a back-fill prepends: those were told before (and trimmed since) or committed before the
   * window opened. The visibility view listens for `agent.access_changed` here.
   */
  onAppend: ((frame: WireFrame) => void) | null = null;

  /** Every event after `from` (and up to `to`) is held; meaningless until `start`. */
  from = 0;

  constructor(
    private readonly db: Queryable,
    private readonly workspaceId: string,
  ) {}

  /** Opens the window at a sequence read from the database (never a client's word). */
  start(seq: number): void {
    if (this.started) return;
    this.started = true;
    this.from = seq;
  }

  get ready(): boolean {
    return this.started;
  }

  get to(): number {
    return this.frames.at(-1)?.seq ?? this.from;
  }

  /** True when every event after `seq` is here (or not yet committed). */
  covers(seq: number): boolean {
    return this.started && seq >= this.from && seq <= this.to;
  }

  /** Index of the first frame after `seq` (frames.length if none). */
  indexAfter(seq: number): number {
    let lo = 0;
    let hi = this.frames.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.frames[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Resolves once every event committed before `since` (a `tick()`) is in the tail. One read runs
   * at a time; callers that arrive while it runs share the next one.
   */
  sync(since: number): Promise<void> {
    if (!this.started) return Promise.reject(new Error('stream tail used before start'));
    if (this.syncedAt > since) return Promise.resolve();
    const current = this.syncing;
    if (current && current.stamp > since) return current.promise;
    if (current) return current.promise.then(() => this.sync(since));
    const stamp = tick();
    const promise = this.readNew()
      .then(() => {
        this.syncedAt = Math.max(this.syncedAt, stamp);
      })
      .finally(() => {
        this.syncing = null;
      });
    this.syncing = { stamp, promise };
    return promise;
  }

  private async readNew(): Promise<void> {
    for (;;) {
      const rows = await readEvents(this.db, this.workspaceId, this.to, PAGE);
      const readAt = tick();
      // Only this loop appends (one sync at a time), so `to` has not moved during the read.
      for (const ev of rows) if (ev.seq > this.to) this.push(wireFrameOf(ev, readAt));
      if (rows.length < PAGE) return;
    }
  }

  private push(frame: WireFrame): void {
    this.frames.push(frame);
    this.bytes += frame.wire.length;
    this.onAppend?.(frame);
  }

  /**
   * Extends the window back to `seq` (a sequence the caller checked is still kept), if that fits
   * in the tail's budget. Returns whether the tail now covers it. One back-fill runs at a time.
   */
  async backfill(seq: number): Promise<boolean> {
    while (this.from > seq) {
      if (this.filling) {
        await this.filling;
        continue;
      }
      const filling = this.readBefore(seq);
      this.filling = filling;
      try {
        if (!(await filling)) return false;
      } finally {
        this.filling = null;
      }
    }
    return true;
  }

  private async readBefore(seq: number): Promise<boolean> {
    const got: WireFrame[] = [];
    let after = seq;
    let bytes = 0;
    for (;;) {
      const rows = await readEvents(this.db, this.workspaceId, after, PAGE);
      const readAt = tick();
      for (const ev of rows) {
        if (ev.seq > this.from) break;
        const f = wireFrameOf(ev, readAt);
        got.push(f);
        bytes += f.wire.length;
      }
      if (got.length + this.frames.length > KEEP_EVENTS * 2 || bytes + this.bytes > KEEP_BYTES * 2)
        return false;
      // A short page holds everything committed after `after`; a full one reaches its last row.
      const reached = rows.length < PAGE ? Infinity : rows.at(-1)!.seq;
      if (reached >= this.from) break;
      after = reached;
    }
    this.frames = [...got, ...this.frames];
    this.bytes += bytes;
    this.from = seq;
    return true;
  }

  /** Drops old frames past the budget, keeping what `keep` (a sequence still needed) wants. */
  trim(keep: number): void {
    let cut = 0;
    let bytes = this.bytes;
    const n = this.frames.length;
    while (cut < n && (n - cut > KEEP_EVENTS || bytes > KEEP_BYTES)) {
      const f = this.frames[cut]!;
      if (f.seq > keep && n - cut <= HARD_EVENTS) break;
      bytes -= f.wire.length;
      cut++;
    }
    if (cut === 0) return;
    this.from = this.frames[cut - 1]!.seq;
    this.frames = this.frames.slice(cut);
    this.bytes = bytes;
  }
}
