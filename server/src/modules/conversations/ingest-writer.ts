/**
 * Group commit for pushes, with admission control.
 *
 * One writer per process takes the pushes that arrived while it was busy and stores them in ONE
 * transaction (events appended with one sequence bump per workspace), then acknowledges them
 * all: `success` still means committed, but a commit (and, with synchronous=FULL, an fsync) is
 * paid per batch instead of per push.
 *
 * Overload is refused fast instead of held: WeChat gives up on a push after 5 s and sends it
 * again, so a push that would wait longer than `pushMaxWaitMs` gets 503 at once, a queued one
 * still waiting at that age is dropped with 503, and none is committed after that point (the
 * check runs when the writer takes it, inside the transaction that commits it milliseconds
 * later). What WeChat retries lands once: the dedupe key decides.
 */
import type { RealtimeEvent } from '@kefu/shared';
import type { AppContext, Unit } from '../../context';
import { AppError } from '../../errors';
import type { AfterCommit } from '../../lib/tx';
import type { ChannelRecord, InboundMessage } from '../channels/types';
import { appendEvents, byWorkspace, type Audience } from '../realtime/event-log';
import { LoopLag } from '../../lib/loop-lag';
import { ingestInTransaction, type IngestResult } from './inbound-service';

/** How a push reached the writer. */
export interface SubmitOptions {
  /** Aborted when its client hangs up. */
  signal?: AbortSignal;
  /** When it reached this process (performance.now()), when known (see http/arrival.ts). */
  arrivedAt?: number | undefined;
}

function waitedSince(arrivedAt: number | undefined): number | undefined {
  return arrivedAt === undefined ? undefined : Math.max(0, performance.now() - arrivedAt);
}

/** Longest the writer works on one batch before letting the event loop run (SQLite is sync). */
const SLICE_MS = 20;

interface Pending {
  channel: ChannelRecord;
  msg: InboundMessage;
  deadline: number;
  signal: AbortSignal | undefined;
  /**
   * queued → taken (in a batch, not yet written) → writing (its rows are in the open
   * transaction) → done. Up to `taken` a deadline or a hang-up drops it; once writing, only the
   * transaction's outcome settles it.
   */
  state: 'queued' | 'taken' | 'writing' | 'done';
  timer: NodeJS.Timeout;
  resolve(result: IngestResult): void;
  reject(err: unknown): void;
}

type Emitted = { workspaceId: string; audience: Audience; event: RealtimeEvent };

function overloaded(details: Record<string, unknown>): AppError {
  return new AppError('PUSH_OVERLOADED', undefined, details);
}

/** Orders a batch by customer (stable): row locks are then taken in one global order. */
function byCustomer(a: Pending, b: Pending): number {
  const ka = `${a.channel.id}\u0000${a.msg.openid}`;
  const kb = `${b.channel.id}\u0000${b.msg.openid}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** One writer: its pushes commit one batch at a time, in arrival order per customer. */
class Lane {
  readonly #ctx: AppContext;
  readonly #queue: Pending[] = [];
  #running = false;
  #batchStartedAt: number | null = null;
  /** Moving average of the writer's time per push (ms), for the expected wait. */
  #perPushMs = 1;
  #idle: (() => void) | null = null;

  readonly #lag: () => number;

  constructor(ctx: AppContext, lag: () => number) {
    this.#ctx = ctx;
    this.#lag = lag;
  }

  /**
   * How long a push would wait in all before its commit: what it waited already (`waitedMs`;
   * by default the loop's lateness) plus the writer's queue.
   */
  expectedWaitMs(waitedMs = this.#lag()): number {
    const stalled = this.#batchStartedAt === null ? 0 : performance.now() - this.#batchStartedAt;
    return this.#queue.length * this.#perPushMs + stalled + waitedMs;
  }

  /**
   * Stores a push and resolves once it is committed; rejects with PUSH_OVERLOADED (503) when it
   * cannot be committed within `pushMaxWaitMs`, or when its client went away first.
   */
  submit(channel: ChannelRecord, msg: InboundMessage, opts: SubmitOptions): Promise<IngestResult> {
    const { signal } = opts;
    const maxWait = this.#ctx.config.pushMaxWaitMs;
    const waited = waitedSince(opts.arrivedAt) ?? this.#lag();
    const expected = this.expectedWaitMs(waited);
    if (expected > maxWait) {
      return Promise.reject(overloaded({ expectedWaitMs: Math.round(expected) }));
    }
    return new Promise<IngestResult>((resolve, reject) => {
      const item: Pending = {
        channel,
        msg,
        deadline: performance.now() + maxWait - waited,
        signal,
        state: 'queued',
        resolve,
        reject,
        timer: setTimeout(() => this.#drop(item, { waitedMs: maxWait }), maxWait),
      };
      signal?.addEventListener('abort', () => this.#drop(item, { reason: 'client gone' }), {
        once: true,
      });
      this.#queue.push(item);
      this.#kick();
    });
  }

  /** Resolves when nothing is queued or being written (shutdown). */
  async drain(): Promise<void> {
    if (!this.#running && this.#queue.length === 0) return;
    await new Promise<void>((resolve) => (this.#idle = resolve));
  }

  #drop(item: Pending, details: Record<string, unknown>): void {
    if (item.state !== 'queued' && item.state !== 'taken') return;
    const at = this.#queue.indexOf(item);
    if (at >= 0) this.#queue.splice(at, 1);
    this.#settle(item, () => item.reject(overloaded(details)));
  }

  #settle(item: Pending, fn: () => void): void {
    item.state = 'done';
    clearTimeout(item.timer);
    fn();
  }

  #kick(): void {
    if (this.#running) return;
    this.#running = true;
    // One turn of the loop lets the pushes arriving together join the first batch.
    setImmediate(() => void this.#loop());
  }

  async #loop(): Promise<void> {
    // While the writer stays busy, the time from one batch's end to the next one's includes the
    // request handling in between (HTTP, signatures, decryption): the real drain rate, which
    // the expected wait must use, not the database's share of it.
    let lastEnd: number | null = null;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#ctx.config.pushBatchMax);
        for (const item of batch) item.state = 'taken';
        const started = performance.now();
        this.#batchStartedAt = started;
        const done = await this.#commit(batch.sort(byCustomer));
        this.#batchStartedAt = null;
        const ended = performance.now();
        if (done > 0) {
          const perPush = (ended - (lastEnd ?? started)) / done;
          this.#perPushMs = 0.8 * this.#perPushMs + 0.2 * perPush;
        }
        lastEnd = ended;
        // Let sockets, timers and other requests in between batches.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.#running = false;
      this.#batchStartedAt = null;
      this.#idle?.();
      this.#idle = null;
      if (this.#queue.length > 0) this.#kick();
    }
  }

  /**
   * Commits a batch; returns how many pushes it handled. If the batch fails as a whole (one
   * push's error, a lost connection, a deadlock), each push is retried alone so one bad push
   * cannot fail the others.
   */
  async #commit(batch: Pending[]): Promise<number> {
    try {
      return await this.#transaction(batch);
    } catch (err) {
      // Rolled back: nothing of it was stored.
      for (const item of batch) if (item.state === 'writing') item.state = 'taken';
      if (batch.length === 1) {
        const [only] = batch;
        if (only && only.state === 'taken') this.#settle(only, () => only.reject(err));
        return 1;
      }
      let n = 0;
      for (const item of batch) {
        if (item.state !== 'taken') continue;
        n += await this.#commit([item]);
      }
      return n;
    }
  }

  async #transaction(batch: Pending[]): Promise<number> {
    const ctx = this.#ctx;
    const hooks: (() => void | Promise<void>)[] = [];
    const results = new Map<Pending, IngestResult>();
    const after: AfterCommit = (fn) => hooks.push(fn);
    const later: Pending[] = [];
    await ctx.db.transaction().execute(async (tx) => {
      const sliceStart = performance.now();
      const emitted: Emitted[] = [];
      const u: Unit = {
        tx,
        after,
        emit: async (workspaceId, audience, event) => {
          emitted.push({ workspaceId, audience, event });
        },
      };
      for (const item of batch) {
        if (item.state !== 'taken') continue;
        if (performance.now() - sliceStart > SLICE_MS && results.size > 0) {
          later.push(item);
          continue;
        }
        if (item.signal?.aborted || performance.now() > item.deadline) {
          this.#drop(item, { reason: 'expired before commit' });
          continue;
        }
        item.state = 'writing';
        results.set(item, await ingestInTransaction(ctx, u, item.channel, item.msg, ctx.now()));
      }
      for (const [workspaceId, events] of byWorkspace(emitted))
        await appendEvents(tx, after, ctx.notifier, workspaceId, events, ctx.now());
    });
    // Committed: acknowledge, then announce.
    for (const [item, result] of results) this.#settle(item, () => item.resolve(result));
    // Pushes the time slice left out go first in the next batch, still within their deadline.
    for (const item of later.reverse()) {
      if (item.state !== 'taken') continue;
      item.state = 'queued';
      if (performance.now() > item.deadline) this.#drop(item, { reason: 'expired' });
      else this.#queue.unshift(item);
    }
    for (const hook of hooks) {
      try {
        await hook();
      } catch (err) {
        ctx.log.error({ err }, 'after-commit hook failed');
      }
    }
    return batch.length - later.length;
  }
}

/**
 * The process's writers. SQLite has one (it has one write lock anyway). On PostgreSQL each
 * statement is a round trip, so one writer would be bound by latency: `pushWriters` lanes run
 * side by side, a customer always in the same lane (their pushes stay in order, and two lanes
 * never lock the same customer's rows; the workspace's sequence row is taken last, briefly).
 */
export class IngestWriter {
  readonly #lanes: Lane[];
  readonly #lag: LoopLag;

  constructor(ctx: AppContext) {
    const n = ctx.dialect === 'sqlite' ? 1 : ctx.config.pushWriters;
    // A saturated process holds pushes before it reads them: the loop's lateness counts as wait.
    const lag = new LoopLag();
    this.#lag = lag;
    this.#lanes = Array.from({ length: n }, () => new Lane(ctx, () => lag.recentMs()));
  }

  /** The shortest expected wait of any lane: the early refusal, before the push is read. */
  expectedWaitMs(arrivedAt?: number): number {
    const waited = waitedSince(arrivedAt);
    return Math.min(...this.#lanes.map((l) => l.expectedWaitMs(waited)));
  }

  /** Stores a push in its customer's lane; see Lane.submit. */
  submit(channel: ChannelRecord, msg: InboundMessage, opts: SubmitOptions): Promise<IngestResult> {
    const key = `${channel.id}\u0000${msg.openid}`;
    let h = 0;
    for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0;
    return this.#lanes[Math.abs(h) % this.#lanes.length]!.submit(channel, msg, opts);
  }

  /** Resolves when every lane is idle (shutdown). */
  async drain(): Promise<void> {
    await Promise.all(this.#lanes.map((l) => l.drain()));
    this.#lag.stop();
  }
}
