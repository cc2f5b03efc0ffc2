import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { connectRedis } from '../../lib/redis';
import { z } from 'zod';
import type { EventNotifier, RevokeNotice } from './event-log';

type Listener<T> = (value: T) => void;

/** Fans "workspace X has new events" and "close these sockets" out to every node's gateway. */
export interface EventBus extends EventNotifier {
  subscribe(fn: Listener<string>): void;
  onRevoke(fn: Listener<RevokeNotice>): void;
  close(): Promise<void>;
}

/** A listener that throws must not break delivery to the others, nor the Redis client. */
function callAll<T>(listeners: Listener<T>[], value: T): void {
  for (const fn of listeners) {
    try {
      fn(value);
    } catch (err) {
      console.error('event bus listener failed', err);
    }
  }
}

/** One process: a direct call. */
export class MemoryBus implements EventBus {
  private readonly listeners: Listener<string>[] = [];
  private readonly revokers: Listener<RevokeNotice>[] = [];
  notify(workspaceId: string): void {
    callAll(this.listeners, workspaceId);
  }
  revoke(notice: RevokeNotice): void {
    callAll(this.revokers, notice);
  }
  subscribe(fn: Listener<string>): void {
    this.listeners.push(fn);
  }
  onRevoke(fn: Listener<RevokeNotice>): void {
    this.revokers.push(fn);
  }
  async close(): Promise<void> {}
}

const revokeNoticeSchema = z.object({
  workspaceId: z.string(),
  agentId: z.string(),
  sessionId: z.string().optional(),
  reason: z.enum(['signed_out', 'disabled', 'password_reset', 'role_changed']),
});

/**
 * Cluster: Redis pub/sub. Only the workspace id travels; each gateway reads the events from the
 * database, so a lost notification delays delivery (until the next one or the safety poll) but
 * never loses or reorders an event. Revoke notices travel on their own channel; a lost one is
 * caught by each gateway's heartbeat re-checking its sockets' sessions.
 */
export class RedisBus implements EventBus {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly channel: string;
  private readonly revokeChannel: string;
  private readonly listeners: Listener<string>[] = [];
  private readonly revokers: Listener<RevokeNotice>[] = [];

  constructor(
    url: string,
    prefix: string,
    private readonly log: FastifyBaseLogger,
  ) {
    this.pub = connectRedis(url, log, 'bus');
    // A subscriber never times commands out: it only waits for messages.
    this.sub = connectRedis(url, log, 'bus-subscriber', { maxRetriesPerRequest: null });
    this.channel = `${prefix}events`;
    this.revokeChannel = `${prefix}revoke`;
    void this.sub.subscribe(this.channel, this.revokeChannel);
    this.sub.on('message', (ch: string, message: string) => {
      if (ch === this.channel) return callAll(this.listeners, message);
      if (ch !== this.revokeChannel) return;
      let notice: RevokeNotice;
      try {
        notice = revokeNoticeSchema.parse(JSON.parse(message));
      } catch {
        return;
      }
      callAll(this.revokers, notice);
    });
  }

  notify(workspaceId: string): void {
    // Lost while Redis is down: every gateway's safety poll delivers the events anyway.
    this.pub.publish(this.channel, workspaceId).catch(() => undefined);
  }

  /** This node acts at once (Redis may be down); the echo from Redis is a harmless repeat. */
  revoke(notice: RevokeNotice): void {
    callAll(this.revokers, notice);
    this.pub
      .publish(this.revokeChannel, JSON.stringify(notice))
      .catch((err: unknown) =>
        this.log.warn({ err }, 'revocation not published; heartbeats catch it'),
      );
  }

  subscribe(fn: Listener<string>): void {
    this.listeners.push(fn);
  }

  onRevoke(fn: Listener<RevokeNotice>): void {
    this.revokers.push(fn);
  }

  async ready(): Promise<void> {
    await Promise.all([this.pub.ping(), this.sub.ping().catch(() => undefined)]);
  }

  async close(): Promise<void> {
    this.pub.disconnect();
    this.sub.disconnect();
  }
}
