import { Redis } from 'ioredis';
import type { EventNotifier } from './event-log';

/** Fans "workspace X has new events" out to every node's gateway. */
export interface EventBus extends EventNotifier {
  subscribe(fn: (workspaceId: string) => void): void;
  close(): Promise<void>;
}

/** One process: a direct call. */
export class MemoryBus implements EventBus {
  private readonly listeners: ((workspaceId: string) => void)[] = [];
  notify(workspaceId: string): void {
    for (const fn of this.listeners) fn(workspaceId);
  }
  subscribe(fn: (workspaceId: string) => void): void {
    this.listeners.push(fn);
  }
  async close(): Promise<void> {}
}

/**
 * Cluster: Redis pub/sub. Only the workspace id travels; each gateway reads the events from the
 * database, so a lost notification delays delivery (until the next one or the safety poll) but
 * never loses or reorders an event.
 */
export class RedisBus implements EventBus {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly channel: string;
  private readonly listeners: ((workspaceId: string) => void)[] = [];

  constructor(url: string, prefix: string) {
    this.pub = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2 });
    this.sub = new Redis(url, { lazyConnect: false });
    this.channel = `${prefix}events`;
    void this.sub.subscribe(this.channel);
    this.sub.on('message', (_ch: string, workspaceId: string) => {
      for (const fn of this.listeners) fn(workspaceId);
    });
  }

  notify(workspaceId: string): void {
    this.pub
      .publish(this.channel, workspaceId)
      .catch((err: unknown) => console.error('redis publish failed', err));
  }

  subscribe(fn: (workspaceId: string) => void): void {
    this.listeners.push(fn);
  }

  async ready(): Promise<void> {
    await Promise.all([this.pub.ping(), this.sub.ping().catch(() => undefined)]);
  }

  async close(): Promise<void> {
    this.pub.disconnect();
    this.sub.disconnect();
  }
}
