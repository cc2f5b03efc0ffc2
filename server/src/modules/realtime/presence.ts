import type { Redis } from 'ioredis';
import { connectRedis } from '../../lib/redis';
import type { AppContext } from '../../context';
import { setStatus } from '../agents/agent-service';

/** How long an agent's connect/disconnect waits to be written with everyone else's. */
const FLUSH_MS = 50;
/** After a failed write (database down), the next try. */
const RETRY_MS = 1_000;
/** Agents per statement, well under either database's parameter limit. */
const CHUNK = 500;

/** An agent's latest change on this node: first socket opened, or last one closed. */
type Transition = 'connected' | 'disconnected';

/**
 * Tracks live console connections per agent. The agent's status (online/away/offline) is their
 * choice; in a workspace with the 'grace' presence rule, losing every connection for longer than
 * the grace period makes them offline. In a
 * cluster the per-node connection counts live in Redis with a TTL, so a node that dies stops
 * counting by itself.
 *
 * `agents.disconnected_at` (where the grace period starts) only changes when an agent's first
 * socket opens or their last one closes, and those changes are written together every FLUSH_MS:
 * a storm of thousands of reconnects is a handful of statements, not one write transaction per
 * socket competing with push ingest for the database's write lock. Only an agent's latest
 * transition is kept, so the row ends as that one says (one that reconnects within the interval
 * is never marked disconnected).
 */
export class Presence {
  private readonly local = new Map<string, number>();
  private readonly redis: Redis | null;
  private readonly ttlMs = 30_000;
  private refresh: NodeJS.Timeout | null = null;
  /** Redis publishes still in flight; close() waits for them. */
  private readonly pending = new Set<Promise<void>>();
  private dirty = new Map<string, Transition>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private closed = false;
  /** UPDATE statements written to `agents` so far (tests, metrics). */
  writes = 0;

  constructor(private readonly ctx: AppContext) {
    this.redis = ctx.config.redisUrl
      ? connectRedis(ctx.config.redisUrl, ctx.log, 'presence')
      : null;
    if (this.redis) this.refresh = setInterval(() => void this.publishAll(), this.ttlMs / 3);
  }

  private key(agentId: string): string {
    return `${this.ctx.config.redisPrefix}presence:${agentId}`;
  }

  /** Issued synchronously (before the first await), so Redis sees them in call order. */
  private async publish(agentId: string): Promise<void> {
    if (!this.redis) return;
    const n = this.local.get(agentId) ?? 0;
    if (n > 0)
      await this.redis.hset(
        this.key(agentId),
        this.ctx.config.nodeId,
        String(Date.now() + this.ttlMs),
      );
    else await this.redis.hdel(this.key(agentId), this.ctx.config.nodeId);
  }

  private async publishAll(): Promise<void> {
    for (const agentId of this.local.keys()) await this.publish(agentId).catch(() => undefined);
  }

  private track(p: Promise<void>): void {
    const q = p.catch(() => undefined).finally(() => this.pending.delete(q));
    this.pending.add(q);
  }

  /** Counts a socket of the agent; their first one publishes them and clears disconnected_at. */
  connected(_workspaceId: string, agentId: string): void {
    const n = (this.local.get(agentId) ?? 0) + 1;
    this.local.set(agentId, n);
    if (n > 1) return;
    this.track(this.publish(agentId));
    this.mark(agentId, 'connected');
  }

  /** Uncounts a socket; their last one here starts the grace period unless another node has them. */
  disconnected(_workspaceId: string, agentId: string): void {
    const n = this.local.get(agentId);
    if (n === undefined) return;
    if (n > 1) return void this.local.set(agentId, n - 1);
    this.local.delete(agentId);
    this.track(this.publish(agentId));
    this.mark(agentId, 'disconnected');
  }

  private mark(agentId: string, t: Transition): void {
    this.dirty.set(agentId, t);
    this.schedule(FLUSH_MS);
  }

  private schedule(ms: number): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, ms);
  }

  /** Writes every transition recorded so far (one flush at a time; errors are logged). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.dirty.size === 0) return;
    const run = this.write()
      .catch((err: unknown) => this.ctx.log.warn({ err }, 'presence update failed'))
      .finally(() => {
        this.flushing = null;
      });
    this.flushing = run;
    await run;
  }

  private async write(): Promise<void> {
    const batch = this.dirty;
    this.dirty = new Map();
    try {
      const ids = [...batch.keys()];
      // Another node's connection keeps the agent connected: no grace period starts.
      const elsewhere = new Set<string>();
      await Promise.all(
        ids.map(async (id) => {
          if (batch.get(id) === 'disconnected' && (await this.isConnected(id))) elsewhere.add(id);
        }),
      );
      const rows: { id: string; disconnectedAt: number | string | null }[] = [];
      for (let i = 0; i < ids.length; i += CHUNK)
        rows.push(
          ...(await this.ctx.db
            .selectFrom('agents')
            .select(['id', 'disconnectedAt'])
            .where('id', 'in', ids.slice(i, i + CHUNK))
            .execute()),
        );
      // Only rows that differ are written: a read costs no write lock. A socket that came back
      // during the awaits above is in `dirty` again, and the next flush writes it.
      const clear: string[] = [];
      const start: string[] = [];
      for (const r of rows) {
        if (batch.get(r.id) === 'connected') {
          if (r.disconnectedAt !== null) clear.push(r.id);
        } else if (r.disconnectedAt === null && !elsewhere.has(r.id) && !this.local.has(r.id))
          start.push(r.id);
      }
      if (clear.length === 0 && start.length === 0) return;
      const now = this.ctx.now();
      await this.ctx.db.transaction().execute(async (tx) => {
        for (let i = 0; i < clear.length; i += CHUNK) {
          this.writes++;
          await tx
            .updateTable('agents')
            .set({ disconnectedAt: null })
            .where('id', 'in', clear.slice(i, i + CHUNK))
            .execute();
        }
        for (let i = 0; i < start.length; i += CHUNK) {
          this.writes++;
          await tx
            .updateTable('agents')
            .set({ disconnectedAt: now })
            .where('id', 'in', start.slice(i, i + CHUNK))
            .where('disconnectedAt', 'is', null)
            .execute();
        }
      });
    } catch (err) {
      // Retried later, unless a newer transition of the same agent replaced it meanwhile.
      for (const [id, t] of batch) if (!this.dirty.has(id)) this.dirty.set(id, t);
      this.schedule(RETRY_MS);
      throw err;
    }
  }

  async isConnected(agentId: string): Promise<boolean> {
    if ((this.local.get(agentId) ?? 0) > 0) return true;
    if (!this.redis) return false;
    const fields = await this.redis.hgetall(this.key(agentId)).catch(() => ({}));
    const now = Date.now();
    return Object.values(fields).some((exp) => Number(exp) > now);
  }

  /**
   * In workspaces with the 'grace' rule, agents who are not offline but have had no connection
   * for the grace period go offline. Under the default 'until_logout' rule the console closing
   * changes nothing: the agent stays online (and reminded) until they pick away or log out.
   */
  async sweep(): Promise<void> {
    const cutoff = this.ctx.now() - this.ctx.config.presenceGraceSeconds * 1000;
    const stale = await this.ctx.db
      .selectFrom('agents as a')
      .innerJoin('workspaces as w', 'w.id', 'a.workspaceId')
      .select(['a.id', 'a.workspaceId'])
      .where('w.presenceRule', '=', 'grace')
      .where('a.status', '!=', 'offline')
      .where('a.disconnectedAt', 'is not', null)
      .where('a.disconnectedAt', '<', cutoff)
      .execute();
    for (const a of stale) {
      if (await this.isConnected(a.id)) {
        await this.ctx.db
          .updateTable('agents')
          .set({ disconnectedAt: null })
          .where('id', '=', a.id)
          .execute();
        continue;
      }
      await setStatus(this.ctx, a.workspaceId, a.id, 'offline', 'disconnected');
    }
  }

  /** Stops the timers and writes what is still pending before the database goes. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.refresh) clearInterval(this.refresh);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.pending]);
    await this.flush();
    if (this.redis) {
      for (const agentId of this.local.keys())
        await this.redis.hdel(this.key(agentId), this.ctx.config.nodeId).catch(() => undefined);
      this.redis.disconnect();
    }
  }
}
