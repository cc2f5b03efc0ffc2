import type { Conversation } from '@kefu/shared';
import webpush from 'web-push';
import type { AppContext } from '../../context';
import { publicRequest } from '../../lib/outbound';
import { readEvents, currentSeq } from '../realtime/event-log';
import type { Presence } from '../realtime/presence';

interface Vapid {
  publicKey: string;
  privateKey: string;
}

const VAPID_KEY = 'vapid';

/** The VAPID key pair, generated on first start and kept in the database (shared by all nodes). */
export async function vapidKeys(ctx: AppContext): Promise<Vapid> {
  const row = await ctx.db
    .selectFrom('kv')
    .select('value')
    .where('key', '=', VAPID_KEY)
    .executeTakeFirst();
  if (row) return JSON.parse(row.value) as Vapid;
  const keys = webpush.generateVAPIDKeys();
  await ctx.db
    .insertInto('kv')
    .values({ key: VAPID_KEY, value: JSON.stringify(keys) })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const stored = await ctx.db
    .selectFrom('kv')
    .select('value')
    .where('key', '=', VAPID_KEY)
    .executeTakeFirstOrThrow();
  return JSON.parse(stored.value) as Vapid;
}

export interface Reminder {
  agentId: string;
  title: string;
  body: string;
  conversationId: string;
}

/**
 * Reminders with the console closed: for new waiting and newly assigned conversations, a Web Push
 * to online agents (never away ones) who have notifications on and no live console. Each event is
 * claimed in `reminders_sent` first, so in a cluster exactly one node sends it.
 */
export class WebPushReminders {
  private cursor = new Map<string, number>();
  /** Every reminder sent (or attempted), newest last; tests and diagnostics read it. */
  readonly log: Reminder[] = [];

  constructor(
    private readonly ctx: AppContext,
    private readonly presence: Presence,
  ) {}

  /** Starts from now: reminders are for what happens while this node runs. */
  async init(): Promise<void> {
    const rows = await this.ctx.db.selectFrom('workspaces').select('id').execute();
    for (const r of rows) this.cursor.set(r.id, await currentSeq(this.ctx.db, r.id));
  }

  async process(workspaceId: string): Promise<void> {
    const { ctx } = this;
    // Workspaces seen at start begin at their sequence then; a workspace created later starts at 0.
    const from = this.cursor.get(workspaceId) ?? 0;
    const events = await readEvents(ctx.db, workspaceId, from);
    for (const ev of events) {
      this.cursor.set(workspaceId, ev.seq);
      const name = ev.event.name;
      if (
        name !== 'conversation.queued' &&
        name !== 'conversation.assigned' &&
        name !== 'conversation.transferred'
      )
        continue;
      const claim = await ctx.db
        .insertInto('remindersSent')
        .values({ workspaceId, seq: ev.seq, createdAt: ctx.now() })
        .onConflict((oc) => oc.columns(['workspaceId', 'seq']).doNothing())
        .executeTakeFirst();
      if (Number(claim.numInsertedOrUpdatedRows ?? 0) === 0) continue;
      const conversation = ev.event.data.conversation;
      await this.remind(workspaceId, name, conversation);
    }
  }

  private async remind(workspaceId: string, name: string, conv: Conversation): Promise<void> {
    const { ctx } = this;
    let q = ctx.db
      .selectFrom('agents as a')
      .innerJoin('channelAgents as ca', 'ca.agentId', 'a.id')
      .select('a.id')
      .where('a.workspaceId', '=', workspaceId)
      .where('ca.channelId', '=', conv.channelId)
      .where('a.status', '=', 'online')
      .where('a.notifications', '=', 1)
      .where('a.disabled', '=', 0);
    q =
      name === 'conversation.queued'
        ? q.where('ca.serving', '=', 1)
        : q.where('a.id', '=', conv.agentId ?? '');
    const agents = await q.execute();
    const title = name === 'conversation.queued' ? '新的待接入会话' : '新会话已分配给你';
    const body = `${conv.customer.nickname ?? conv.customer.openid}：${conv.lastPreview || '进入了客服会话'}`;
    for (const { id } of agents) {
      if (await this.presence.isConnected(id)) continue;
      this.log.push({ agentId: id, title, body, conversationId: conv.id });
      if (this.log.length > 1000) this.log.shift();
      await this.send(id, { title, body, conversationId: conv.id });
    }
  }

  private async send(
    agentId: string,
    payload: { title: string; body: string; conversationId: string },
  ): Promise<void> {
    const { ctx } = this;
    const subs = await ctx.db
      .selectFrom('pushSubscriptions')
      .selectAll()
      .where('agentId', '=', agentId)
      .orderBy('createdAt')
      .execute();
    if (subs.length === 0) return;
    const vapid = await vapidKeys(ctx);
    for (const sub of subs) {
      try {
        // web-push builds the encrypted request; lib/outbound sends it: https to public addresses
        // only (an agent chooses the endpoint), no redirects, a timeout.
        const req = webpush.generateRequestDetails(
          {
            endpoint: sub.endpoint,
            keys: JSON.parse(sub.keys) as { p256dh: string; auth: string },
          },
          JSON.stringify(payload),
          {
            vapidDetails: { subject: ctx.config.publicUrl ?? 'mailto:kefu@localhost', ...vapid },
            TTL: 600,
          },
        );
        const res = await publicRequest(req.endpoint, {
          method: req.method,
          headers: req.headers,
          body: req.body ? new Uint8Array(req.body) : null,
          timeoutMs: 5000,
          allowedBases: ctx.config.allowedOutboundBases,
        });
        if (res.status < 200 || res.status >= 300)
          throw Object.assign(new Error(`push service answered ${res.status}`), {
            statusCode: res.status,
          });
      } catch (err) {
        const status = (err as { statusCode?: number }).statusCode;
        // 404/410: the browser dropped the subscription; forget it.
        if (status === 404 || status === 410)
          await ctx.db.deleteFrom('pushSubscriptions').where('id', '=', sub.id).execute();
        else ctx.log.warn({ err, agentId }, 'web push failed');
      }
    }
  }
}
