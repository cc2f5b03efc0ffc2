import type { AppContext } from './context';
import { Coalescer } from './lib/coalesce';
import { drainQueue } from './modules/conversations/assignment';
import { sweepConversations } from './modules/conversations/sweeper';
import { processOutbox } from './modules/messages/outbox-worker';
import { pruneEvents } from './modules/realtime/event-log';
import type { Gateway } from './modules/realtime/gateway';
import type { Presence } from './modules/realtime/presence';
import type { WebPushReminders } from './modules/notifications/web-push';

const EVENT_RETENTION_MS = 24 * 3600_000;
const DEDUPE_RETENTION_MS = 7 * 24 * 3600_000;

/**
 * Background work of one node: the outbox, queue draining, and the periodic sweep (idle, window
 * expiry, presence, retention). Each loop also polls, so a lost kick only delays work.
 */
export class Workers {
  private readonly jobs: Coalescer;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(
    private readonly ctx: AppContext,
    private readonly presence: Presence,
    private readonly gateway: Gateway,
    private readonly reminders: WebPushReminders,
  ) {
    this.jobs = new Coalescer((err) => ctx.log.error({ err }, 'background job failed'));
  }

  kickOutbox(): void {
    if (this.stopped) return;
    void this.jobs.run('outbox', async () => {
      while (!this.stopped && (await processOutbox(this.ctx)) > 0);
    });
  }

  /** New events in a workspace: send Web Push reminders for those nobody is watching live. */
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
    const { outboxPollMs, idleSweepMs } = this.ctx.config;
    this.timers.push(setInterval(() => this.kickOutbox(), outboxPollMs));
    this.timers.push(
      setInterval(() => void this.jobs.run('sweep', () => this.sweep()), idleSweepMs),
    );
    this.timers.push(setInterval(() => this.gateway.pumpAll(), 5_000));
    this.kickOutbox();
    const channels = await this.ctx.db
      .selectFrom('channels')
      .select(['id', 'workspaceId'])
      .where('deletedAt', 'is', null)
      .execute();
    for (const c of channels) this.kickAssignment(c.workspaceId, c.id);
  }

  /** Resolves once every running job has finished. */
  idle(): Promise<void> {
    return this.jobs.idle();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.jobs.idle();
  }
}
