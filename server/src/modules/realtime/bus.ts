import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { connectRedis } from '../../lib/redis';
import { z } from 'zod';
import type { EventNotifier, RevokeNotice } from './event-log';

type Listener<T> = (value: T) => void;

/** Whether notifications reach the other nodes; while they do not, gateways poll the event log. */
export interface BusHealth {
  readonly up: boolean;
  /** Told of every change of `up`. */
  onHealth(fn: Listener<boolean>): void;
}

/**
 * Fans "workspace X has new events" and "close these sockets" out to every node's gateway, and
 * "channel C changed" to every node's channel cache.
 */
export interface EventBus extends EventNotifier, BusHealth {
  subscribe(fn: Listener<string>): void;
  onRevoke(fn: Listener<RevokeNotice>): void;
  /** Tells every node (this one included) that a channel's row changed. */
  channelChanged(channelId: string): void;
  onChannelChanged(fn: Listener<string>): void;
  close(): Promise<void>;
}

/** The health of whatever bus `notifier` is: a bus without a health signal is always up. */
export function healthOf(notifier: EventNotifier): BusHealth {
  return hasHealth(notifier) ? notifier : ALWAYS_UP;
}

function hasHealth(n: EventNotifier | (EventNotifier & BusHealth)): n is EventNotifier & BusHealth {
  return typeof (n as Partial<BusHealth>).onHealth === 'function';
}

const ALWAYS_UP: BusHealth = { up: true, onHealth: () => undefined };

/** A listener that throws must not break delivery to the others, nor the Redis client. */
function callAll<T>(listeners: Listener<T>[], value: T, onError: (err: unknown) => void): void {
  for (const fn of listeners) {
    try {
      fn(value);
    } catch (err) {
      onError(err);
    }
  }
}

/** One process: a direct call. */
export class MemoryBus implements EventBus {
  readonly up = true;
  constructor(private readonly log: Pick<FastifyBaseLogger, 'error'>) {}
  private readonly failed = (err: unknown) => this.log.error({ err }, 'event bus listener failed');
  private readonly listeners: Listener<string>[] = [];
  private readonly revokers: Listener<RevokeNotice>[] = [];
  private readonly channelWatchers: Listener<string>[] = [];
  notify(workspaceId: string): void {
    callAll(this.listeners, workspaceId, this.failed);
  }
  channelChanged(channelId: string): void {
    callAll(this.channelWatchers, channelId, this.failed);
  }
  onChannelChanged(fn: Listener<string>): void {
    this.channelWatchers.push(fn);
  }
  revoke(notice: RevokeNotice): void {
    callAll(this.revokers, notice, this.failed);
  }
  subscribe(fn: Listener<string>): void {
    this.listeners.push(fn);
  }
  onRevoke(fn: Listener<RevokeNotice>): void {
    this.revokers.push(fn);
  }
  onHealth(): void {}
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
 *
 * While Redis is down the bus says so (`up` false, once per transition in the log): this node's
 * own events are handed to its listeners directly, and the workers poll the event log for the
 * other nodes' until both connections are back and subscribed again.
 */
export class RedisBus implements EventBus {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly channel: string;
  private readonly revokeChannel: string;
  private readonly channelsChannel: string;
  private readonly listeners: Listener<string>[] = [];
  private readonly revokers: Listener<RevokeNotice>[] = [];
  private readonly channelWatchers: Listener<string>[] = [];
  private readonly watchers: Listener<boolean>[] = [];
  private pubReady = false;
  private subReady = false;
  /** Null until first connected: starting up is not an outage worth a log line. */
  private state: boolean | null = null;
  private closing = false;

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
    this.channelsChannel = `${prefix}channels`;
    this.pub.on('ready', () => this.set({ pub: true }));
    this.pub.on('close', () => this.set({ pub: false }));
    // 'ready' comes before ioredis re-subscribes: the bus is up only once SUBSCRIBE answered
    // (subscribing twice to a channel is a no-op).
    this.sub.on('ready', () => {
      this.sub
        .subscribe(this.channel, this.revokeChannel, this.channelsChannel)
        .then(() => this.set({ sub: true }))
        .catch(() => undefined);
    });
    this.sub.on('close', () => this.set({ sub: false }));
    this.sub.on('message', (ch: string, message: string) => {
      if (ch === this.channel) return this.callAll(this.listeners, message);
      if (ch === this.channelsChannel) return this.callAll(this.channelWatchers, message);
      if (ch !== this.revokeChannel) return;
      let notice: RevokeNotice;
      try {
        notice = revokeNoticeSchema.parse(JSON.parse(message));
      } catch {
        return;
      }
      this.callAll(this.revokers, notice);
    });
  }

  get up(): boolean {
    return this.state === true;
  }

  onHealth(fn: Listener<boolean>): void {
    this.watchers.push(fn);
  }

  private set(change: { pub?: boolean; sub?: boolean }): void {
    if (this.closing) return;
    this.pubReady = change.pub ?? this.pubReady;
    this.subReady = change.sub ?? this.subReady;
    const up = this.pubReady && this.subReady;
    if (this.state === up) return;
    // Still starting: one connection ready and the other not yet is no outage; a lost one is.
    const lost = change.pub === false || change.sub === false;
    if (this.state === null && !up && !lost) return;
    const starting = this.state === null;
    this.state = up;
    if (!up) this.log.warn('realtime bus (Redis) is down: polling the event log meanwhile');
    else if (!starting) this.log.info('realtime bus (Redis) is back: events are pushed again');
    this.callAll(this.watchers, up);
  }

  private callAll<T>(listeners: Listener<T>[], value: T): void {
    callAll(listeners, value, (err) => this.log.error({ err }, 'event bus listener failed'));
  }

  notify(workspaceId: string): void {
    // Without Redis (even our own echo is lost) this node's sockets hear of it directly.
    if (!this.up) this.callAll(this.listeners, workspaceId);
    // Lost while Redis is down: the other nodes are polling meanwhile.
    this.pub.publish(this.channel, workspaceId).catch(() => undefined);
  }

  /** This node acts at once (Redis may be down); the echo from Redis is a harmless repeat. */
  revoke(notice: RevokeNotice): void {
    this.callAll(this.revokers, notice);
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

  /** Lost while Redis is down: the other nodes' caches drop the entry at their TTL instead. */
  channelChanged(channelId: string): void {
    this.pub.publish(this.channelsChannel, channelId).catch(() => undefined);
  }

  onChannelChanged(fn: Listener<string>): void {
    this.channelWatchers.push(fn);
  }

  async ready(): Promise<void> {
    await Promise.all([this.pub.ping(), this.sub.ping().catch(() => undefined)]);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.pub.disconnect();
    this.sub.disconnect();
  }
}
