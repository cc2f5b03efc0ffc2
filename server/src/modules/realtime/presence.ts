import type { Redis } from 'ioredis';
import { connectRedis } from '../../lib/redis';
import type { AppContext } from '../../context';
import { setStatus } from '../agents/agent-service';

/**
 * Tracks live console connections per agent. The agent's status (online/away/offline) is their
 * choice; losing every connection for longer than the grace period makes them offline. In a
 * cluster the per-node connection counts live in Redis with a TTL, so a node that dies stops
 * counting by itself.
 */
export class Presence {
  private readonly local = new Map<string, number>();
  private readonly redis: Redis | null;
  private readonly ttlMs = 30_000;
  private refresh: NodeJS.Timeout | null = null;
  /** Connection bookkeeping still writing; close() waits for it before the database goes. */
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly ctx: AppContext) {
    this.redis = ctx.config.redisUrl
      ? connectRedis(ctx.config.redisUrl, ctx.log, 'presence')
      : null;
    if (this.redis) this.refresh = setInterval(() => void this.publishAll(), this.ttlMs / 3);
  }

  private key(agentId: string): string {
    return `${this.ctx.config.redisPrefix}presence:${agentId}`;
  }

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

  connected(workspaceId: string, agentId: string): Promise<void> {
    return this.track(this.onConnected(workspaceId, agentId));
  }

  disconnected(workspaceId: string, agentId: string): Promise<void> {
    return this.track(this.onDisconnected(workspaceId, agentId));
  }

  private track(p: Promise<void>): Promise<void> {
    this.pending.add(p);
    return p.finally(() => this.pending.delete(p));
  }

  private async onConnected(_workspaceId: string, agentId: string): Promise<void> {
    this.local.set(agentId, (this.local.get(agentId) ?? 0) + 1);
    await this.publish(agentId).catch(() => undefined);
    await this.ctx.db
      .updateTable('agents')
      .set({ disconnectedAt: null })
      .where('id', '=', agentId)
      .execute();
  }

  private async onDisconnected(_workspaceId: string, agentId: string): Promise<void> {
    const n = Math.max(0, (this.local.get(agentId) ?? 1) - 1);
    if (n === 0) this.local.delete(agentId);
    else this.local.set(agentId, n);
    await this.publish(agentId).catch(() => undefined);
    if (!(await this.isConnected(agentId))) {
      await this.ctx.db
        .updateTable('agents')
        .set({ disconnectedAt: this.ctx.now() })
        .where('id', '=', agentId)
        .where('disconnectedAt', 'is', null)
        .execute();
    }
  }

  async isConnected(agentId: string): Promise<boolean> {
    if ((this.local.get(agentId) ?? 0) > 0) return true;
    if (!this.redis) return false;
    const fields = await this.redis.hgetall(this.key(agentId)).catch(() => ({}));
    const now = Date.now();
    return Object.values(fields).some((exp) => Number(exp) > now);
  }

  /** Agents who are not offline but have had no connection for the grace period go offline. */
  async sweep(): Promise<void> {
    const cutoff = this.ctx.now() - this.ctx.config.presenceGraceSeconds * 1000;
    const stale = await this.ctx.db
      .selectFrom('agents')
      .select(['id', 'workspaceId'])
      .where('status', '!=', 'offline')
      .where('disconnectedAt', 'is not', null)
      .where('disconnectedAt', '<', cutoff)
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

  async close(): Promise<void> {
    if (this.refresh) clearInterval(this.refresh);
    await Promise.allSettled([...this.pending]);
    if (this.redis) {
      for (const agentId of this.local.keys())
        await this.redis.hdel(this.key(agentId), this.ctx.config.nodeId).catch(() => undefined);
      this.redis.disconnect();
    }
  }
}
