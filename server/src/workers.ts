import type { AppContext } from './context';
import { Coalescer } from './lib/coalesce';
import { drainQueue } from './modules/conversations/assignment';
import { sweepConversations } from './modules/conversations/sweeper';
import { NodeHeartbeat } from './modules/cluster/node-heartbeat';
import { LOCK_MS } from './modules/messages/outbox-jobs';
import { OutboxWorker } from './modules/messages/outbox-worker';
import { healthOf } from './modules/realtime/bus';
import { pruneEvents } from './modules/realtime/event-log';
import type { Gateway } from './modules/realtime/gateway';
import type { Presence } from './modules/realtime/presence';
import type { Reminders } from './modules/notifications/reminder-dispatch';

const EVENT_RETENTION_MS = 24 * 3600_000;
const DEDUPE_RETENTION_MS = 7 * 24 * 3600_000;
/** The safety poll of every gateway (a lost notification waits at most this long). */
const SAFETY_POLL_MS = 5_000;
/** While the bus is down, the other nodes' events are polled this often. */
const DEGRADED_POLL_MS = 1_000;

/**
 * Background work of one node: its heartbeat, the outbox, queue draining, and the periodic sweep
 * (idle, window expiry, presence, retention). Each loop also polls, so a lost kick only delays
 * work. Nothing runs before start(): jobs are only ever claimed under a beating heartbeat.
 */
export class Workers {
  private readonly jobs: Coalescer;
  private readonly heartbeat: NodeHeartbeat;
  private readonly outbox: OutboxWorker;
  private timers: NodeJS.Timeout[] = [];
  private started = false;
  private stopped = false;
  private polling: NodeJS.Timeout | null = null;

  constructor(
    private readonly ctx: AppContext,
    private readonly presence: Presence,
    private readonly gateway: Gateway,
    private readonly reminders: Reminders,
  ) {
    this.jobs = new Coalescer((err) => ctx.log.error({ err }, 'background job failed'));
    this.heartbeat = new NodeHeartbeat(ctx);
    this.outbox = new OutboxWorker(ctx, this.heartbeat);
  }

  /** How this node learns of other nodes' events now: Redis push, or polling while it is down. */
  get realtimeMode(): 'push' | 'polling' {
    return healthOf(this.ctx.notifier).up ? 'push' : 'polling';
  }

  kickOutbox(): void {
    if (!this.started || this.stopped) return;
    void this.jobs.run('outbox', async () => {
      while (!this.stopped && (await this.outbox.process()) > 0);
    });
  }

  /** New events in a workspace: remind (Web Push, WeCom robot) those with no console open. */
  kickReminders(workspaceId: string): void {
    if (this.stopped) return;
    void this.jobs.run(`remind:${workspaceId}`, () => this.reminders.process(workspaceId));
  }

  kickAssignment(workspaceId: string, channelId: string): void {
    if (this.stopped) return;
    void this.jobs.run(`assign:${channelId}`, () => drainQueue(this.ctx, workspaceId, channelId));
  }

  /** One sweep pass (also callable from tests). */
  async sweep(): Promise<void> {
    await sweepConversations(this.ctx);
    // Safety net: drain every queue, in case a wake-up was lost (another node's change, a crash).
    const channels = await this.ctx.db
      .selectFrom('channels')
      .select(['id', 'workspaceId'])
      .where('deletedAt', 'is', null)
      .execute();
    for (const c of channels) await drainQueue(this.ctx, c.workspaceId, c.id);
    await this.presence.sweep();
    const now = this.ctx.now();
    await pruneEvents(this.ctx.db, now - EVENT_RETENTION_MS);
    await this.ctx.db
      .deleteFrom('inboundKeys')
      .where('createdAt', '<', now - DEDUPE_RETENTION_MS)
      .execute();
    // A claim outlives its event by nothing: events older than the retention are gone already.
    await this.ctx.db
      .deleteFrom('remindersSent')
      .where('createdAt', '<', now - EVENT_RETENTION_MS)
      .execute();
  }

  async start(): Promise<void> {
    await this.reminders.init();
    // After a restart nobody is connected yet: start every present agent's grace period now.
    await this.ctx.db
      .updateTable('agents')
      .set({ disconnectedAt: this.ctx.now() })
      .where('status', '!=', 'offline')
      .where('disconnectedAt', 'is', null)
      .execute();
    await this.heartbeat.start();
    this.started = true;
    const { outboxPollMs, idleSweepMs } = this.ctx.config;
    this.timers.push(setInterval(() => this.kickOutbox(), outboxPollMs));
    this.timers.push(
      setInterval(() => void this.jobs.run('sweep', () => this.sweep()), idleSweepMs),
    );
    this.timers.push(
      setInterval(
        () =>
          void this.outbox
            .renewLeases()
            .catch((err: unknown) => this.ctx.log.warn({ err }, 'outbox leases not renewed')),
        LOCK_MS / 4,
      ),
    );
    this.timers.push(setInterval(() => this.gateway.pumpAll(), SAFETY_POLL_MS));
    const health = healthOf(this.ctx.notifier);
    health.onHealth((up) => this.pollWhileDown(up));
    this.pollWhileDown(health.up);
    this.kickOutbox();
    const channels = await this.ctx.db
      .selectFrom('channels')
      .select(['id', 'workspaceId'])
      .where('deletedAt', 'is', null)
      .execute();
    for (const c of channels) this.kickAssignment(c.workspaceId, c.id);
  }

  /**
   * Bus down: every second, each workspace with sockets here reads the event log. Bus back: one
   * more pass at once (notifications sent while it came back may be lost), then push only.
   */
  private pollWhileDown(up: boolean): void {
    if (this.stopped) return;
    if (up) {
      if (this.polling) clearInterval(this.polling);
      this.polling = null;
      this.gateway.pumpAll();
    } else {
      this.polling ??= setInterval(() => this.gateway.pumpAll(), DEGRADED_POLL_MS);
    }
  }

  /** Resolves once every running job has finished. */
  idle(): Promise<void> {
    return this.jobs.idle();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.outbox.stop();
    for (const t of this.timers) clearInterval(t);
    if (this.polling) clearInterval(this.polling);
    await this.jobs.idle();
    if (this.started) await this.heartbeat.stop();
  }
}
