import type { FastifyBaseLogger } from 'fastify';
import { Redis, type RedisOptions } from 'ioredis';

/** How often one connection may report that Redis is still down. */
const REPORT_EVERY_MS = 30_000;

/**
 * A Redis connection that reports its outages through the logger instead of ioredis's console
 * fallback: once when Redis goes away (then at most every 30 s) and once when it is back. ioredis
 * reconnects by itself and re-subscribes pub/sub channels, so nothing else is needed to recover.
 */
export function connectRedis(
  url: string,
  log: FastifyBaseLogger,
  name: string,
  options: RedisOptions = {},
): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 2, ...options });
  let downSince = 0;
  let reportedAt = 0;
  client.on('error', (err: Error) => {
    const now = Date.now();
    downSince ||= now;
    if (now - reportedAt < REPORT_EVERY_MS) return;
    reportedAt = now;
    log.warn({ err, redis: name }, 'Redis unavailable; reconnecting');
  });
  client.on('ready', () => {
    if (!downSince) return;
    log.info({ redis: name, downMs: Date.now() - downSince }, 'Redis connection restored');
    downSince = 0;
    reportedAt = 0;
  });
  return client;
}
