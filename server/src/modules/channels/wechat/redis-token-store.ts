import type { Redis } from 'ioredis';
import type { StoredToken, TokenStore } from './token-store';

const LOCK_MS = 10_000;
const RELEASE =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/**
 * Cluster token cache: one access token per credential key (`tokenKeyOf`: base, AppID and
 * AppSecret hashed, never the AppID alone) shared by every node through Redis, refreshed by one
 * node at a time (WeChat invalidates a token when another one is fetched).
 */
export class RedisTokenStore implements TokenStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly owner: string,
  ) {}

  async get(key: string): Promise<StoredToken | null> {
    const raw = await this.redis.get(`${this.prefix}wxtoken:${key}`);
    return raw ? (JSON.parse(raw) as StoredToken) : null;
  }

  async set(key: string, value: StoredToken): Promise<void> {
    const ttl = Math.max(1000, value.expiresAt - Date.now());
    await this.redis.set(`${this.prefix}wxtoken:${key}`, JSON.stringify(value), 'PX', ttl);
  }

  async delete(key: string): Promise<void> {
    await this.redis.del(`${this.prefix}wxtoken:${key}`);
  }

  async lock(key: string, fn: () => Promise<StoredToken>): Promise<StoredToken> {
    const lockKey = `${this.prefix}wxtoken-lock:${key}`;
    const deadline = Date.now() + LOCK_MS;
    while ((await this.redis.set(lockKey, this.owner, 'PX', LOCK_MS, 'NX')) !== 'OK') {
      // A holder that died leaves the lock to expire; never wait longer than its TTL.
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    try {
      return await fn();
    } finally {
      await this.redis.eval(RELEASE, 1, lockKey, this.owner).catch(() => undefined);
    }
  }
}
