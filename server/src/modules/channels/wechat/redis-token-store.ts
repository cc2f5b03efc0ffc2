import type { Redis } from 'ioredis';
import type { StoredToken, TokenStore } from './token-store';

const LOCK_MS = 10_000;
const RELEASE =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/**
 * Cluster token cache: one access token per AppID shared by every node through Redis, refreshed
 * by one node at a time (WeChat invalidates a token when another one is fetched).
 */
export class RedisTokenStore implements TokenStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly owner: string,
  ) {}

  async get(appId: string): Promise<StoredToken | null> {
    const raw = await this.redis.get(`${this.prefix}wxtoken:${appId}`);
    return raw ? (JSON.parse(raw) as StoredToken) : null;
  }

  async set(appId: string, value: StoredToken): Promise<void> {
    const ttl = Math.max(1000, value.expiresAt - Date.now());
    await this.redis.set(`${this.prefix}wxtoken:${appId}`, JSON.stringify(value), 'PX', ttl);
  }

  async lock(appId: string, fn: () => Promise<StoredToken>): Promise<StoredToken> {
    const key = `${this.prefix}wxtoken-lock:${appId}`;
    const deadline = Date.now() + LOCK_MS;
    while ((await this.redis.set(key, this.owner, 'PX', LOCK_MS, 'NX')) !== 'OK') {
      // A holder that died leaves the lock to expire; never wait longer than its TTL.
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    try {
      return await fn();
    } finally {
      await this.redis.eval(RELEASE, 1, key, this.owner).catch(() => undefined);
    }
  }
}
