import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';

/** One sliding-window rule: at most `limit` hits on `key` within `windowMs`. */
export interface Limit {
  key: string;
  limit: number;
  windowMs: number;
}

/** The outcome of one `hit`: refused hits reserve nothing. */
export interface Hit {
  allowed: boolean;
  /** When a refused hit may be tried again (0 when allowed). */
  retryAfterMs: number;
  /** Gives this hit's reserved slots back (a sign-in that turned out right is not a failure). */
  refund(): Promise<void>;
}

/**
 * A sliding-window limiter over several rules at once. `hit` is all-or-nothing and reserves its
 * slot before the caller does the work it guards, so N parallel requests can never all pass a
 * check that only one of them should have passed.
 */
export interface RateLimiter {
  hit(limits: Limit[], now: number): Promise<Hit>;
  /** Forgets every hit on `key`. */
  reset(key: string): Promise<void>;
}

const DOWN = new Set(['reconnecting', 'close', 'end']);
const noop = async () => undefined;

/** The limiter of one process: exact, and atomic because `hit` never awaits between check and reserve. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly hits = new Map<string, { id: string; at: number }[]>();

  async hit(limits: Limit[], now: number): Promise<Hit> {
    return this.hitNow(limits, now);
  }

  /** The synchronous core, also used by the Redis limiter as its fallback. */
  hitNow(limits: Limit[], now: number): Hit {
    let retryAfterMs = 0;
    for (const { key, limit, windowMs } of limits) {
      const recent = (this.hits.get(key) ?? []).filter((h) => now - h.at < windowMs);
      if (recent.length) this.hits.set(key, recent);
      else this.hits.delete(key);
      if (recent.length >= limit)
        retryAfterMs = Math.max(retryAfterMs, windowMs - (now - recent[0]!.at));
    }
    if (retryAfterMs > 0) return { allowed: false, retryAfterMs, refund: noop };
    const id = randomBytes(8).toString('hex');
    for (const { key } of limits)
      this.hits.set(key, [...(this.hits.get(key) ?? []), { id, at: now }]);
    return {
      allowed: true,
      retryAfterMs: 0,
      refund: async () => {
        for (const { key } of limits) {
          const left = (this.hits.get(key) ?? []).filter((h) => h.id !== id);
          if (left.length) this.hits.set(key, left);
          else this.hits.delete(key);
        }
      },
    };
  }

  async reset(key: string): Promise<void> {
    this.hits.delete(key);
  }
}

// One sorted set per key (score = time, member = hit id). Prune, check every rule, and only if
// all pass add the hit to each: Redis runs a script alone, so this is atomic across nodes.
// KEYS = the rule keys; ARGV = now, hit id, then limit and window for each key.
const HIT_SCRIPT = `
local now = tonumber(ARGV[1])
local retry = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local wait = tonumber(oldest[2]) + window - now
    if wait > retry then retry = wait end
  end
end
if retry > 0 then return retry end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, ARGV[2 + 2 * i])
end
return 0
`;

/**
 * The cluster-wide limiter: every node counts in the same Redis sorted sets, so N nodes allow
 * the limit once, not N times. When Redis is unreachable it falls back to this node's memory
 * limiter (and warns): failing closed would lock every agent out of sign-in and stop every
 * reply for as long as Redis is down, while the per-node limit still bounds an attacker.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly fallback = new MemoryRateLimiter();
  private warnedAt = -Infinity;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: FastifyBaseLogger,
  ) {}

  async hit(limits: Limit[], now: number): Promise<Hit> {
    // Lost the connection: don't queue behind reconnect attempts, decide here and now. (The
    // first connect after start is waited for, so early sign-ins are counted cluster-wide.)
    if (DOWN.has(this.redis.status)) return this.fallBack(limits, now, null);
    const keys = limits.map((l) => this.prefix + 'rl:' + l.key);
    const id = `${now}-${randomBytes(8).toString('hex')}`;
    const args = limits.flatMap((l) => [l.limit, l.windowMs]);
    let retry: number;
    try {
      retry = Number(await this.redis.eval(HIT_SCRIPT, keys.length, ...keys, now, id, ...args));
    } catch (err) {
      return this.fallBack(limits, now, err);
    }
    if (retry > 0) return { allowed: false, retryAfterMs: retry, refund: noop };
    return {
      allowed: true,
      retryAfterMs: 0,
      refund: async () => {
        await Promise.all(keys.map((k) => this.redis.zrem(k, id))).catch(() => undefined);
      },
    };
  }

  async reset(key: string): Promise<void> {
    await this.fallback.reset(key);
    if (!DOWN.has(this.redis.status))
      await this.redis.del(this.prefix + 'rl:' + key).catch(() => undefined);
  }

  private fallBack(limits: Limit[], now: number, err: unknown): Hit {
    if (now - this.warnedAt > 60_000) {
      this.warnedAt = now;
      this.log.warn({ err }, 'rate limits: Redis unavailable, counting on this node only');
    }
    return this.fallback.hitNow(limits, now);
  }
}

/** The deployment's limiter: Redis-backed in cluster mode, in memory otherwise. */
export function createRateLimiter(
  redis: Redis | null,
  prefix: string,
  log: FastifyBaseLogger,
): RateLimiter {
  return redis ? new RedisRateLimiter(redis, prefix, log) : new MemoryRateLimiter();
}
