import type { RealtimeEvent, ReminderRoute } from '@kefu/shared';
import type { AppContext } from '../../context';
import { readEvents, currentSeq } from '../realtime/event-log';
import type { Presence } from '../realtime/presence';
import { loadRobot, recordOutcome, type RobotConfig } from './reminder-store';
import { sendWebPush, type PushPayload, type RouteOutcome } from './web-push';
import { sendRobotText } from './wecom-robot';

/** One reminder sent (or attempted) to one agent, with what each route did. */
export interface Reminder {
  agentId: string;
  title: string;
  body: string;
  conversationId: string;
  routes: Partial<Record<ReminderRoute, RouteOutcome>>;
}

/** A customer who writes several lines in a row gets their agent reminded once a minute. */
const MESSAGE_COOLDOWN_MS = 60_000;

const TITLES = {
  'conversation.queued': '新的待接入会话',
  'conversation.assigned': '新会话已分配给你',
  'conversation.transferred': '新会话已分配给你',
  'message.created': '客户发来新消息',
} as const;
type Kind = keyof typeof TITLES;

/** One agent to remind, and by which routes. */
interface Target {
  agentId: string;
  push: boolean;
  robot: RobotConfig | null;
}
/** What an event calls for: whom to remind of which conversation. */
interface Plan {
  name: Kind;
  conv: { id: string; who: string; preview: string };
  targets: Target[];
}

/**
 * Reminders by the routes that reach a phone (Web Push, the agent's WeCom group robot) for online
 * agents with no live console: new waiting conversations on channels they serve, conversations
 * given to them, and new customer messages in their own active or idle conversations. Away and
 * offline agents get none; an agent with a console open anywhere is reminded by the console
 * itself, so the phone stays quiet. Each event is claimed in `reminders_sent` first, so in a
 * cluster exactly one node sends it.
 */
export class Reminders {
  private cursor = new Map<string, number>();
  private lastMessageReminder = new Map<string, number>();
  /** Every reminder sent (or attempted), newest last; tests and diagnostics read it. */
  readonly log: Reminder[] = [];

  constructor(
    private readonly ctx: AppContext,
    private readonly presence: Presence,
  ) {}

  /** The last event sequence of the workspace this node has gone through (tests, diagnostics). */
  seenUpTo(workspaceId: string): number {
    return this.cursor.get(workspaceId) ?? 0;
  }

  /** Starts from now: reminders are for what happens while this node runs. */
  async init(): Promise<void> {
    const rows = await this.ctx.db.selectFrom('workspaces').select('id').execute();
    for (const r of rows) this.cursor.set(r.id, await currentSeq(this.ctx.db, r.id));
  }

  /**
   * Reads the workspace's new events and reminds for those that call for it. Whom to remind is
   * worked out first (reads only); an event is claimed only when someone is to be reminded, so
   * the ordinary customer message costs no write here.
   */
  async process(workspaceId: string): Promise<void> {
    const { ctx } = this;
    // Workspaces seen at start begin at their sequence then; a workspace created later starts at 0.
    const from = this.cursor.get(workspaceId) ?? 0;
    const events = await readEvents(ctx.db, workspaceId, from);
    for (const ev of events) {
      this.cursor.set(workspaceId, ev.seq);
      try {
        const plan = await this.plan(workspaceId, ev.event);
        if (!plan || plan.targets.length === 0) continue;
        const claim = await ctx.db
          .insertInto('remindersSent')
          .values({ workspaceId, seq: ev.seq, createdAt: ctx.now() })
          .onConflict((oc) => oc.columns(['workspaceId', 'seq']).doNothing())
          .executeTakeFirst();
        if (Number(claim.numInsertedOrUpdatedRows ?? 0) === 0) continue;
        await this.send(workspaceId, plan);
      } catch (err) {
        ctx.log.warn({ err, workspaceId, seq: ev.seq }, 'reminder not sent');
      }
    }
  }

  private async plan(workspaceId: string, e: RealtimeEvent): Promise<Plan | null> {
    if (e.name === 'message.created') {
      const m = e.data.message;
      if (m.direction !== 'in' || m.sender !== 'customer') return null;
      return this.planMessage(workspaceId, m);
    }
    if (
      e.name !== 'conversation.queued' &&
      e.name !== 'conversation.assigned' &&
      e.name !== 'conversation.transferred'
    )
      return null;
    const conv = e.data.conversation;
    let q = this.ctx.db
      .selectFrom('agents as a')
      .innerJoin('channelAgents as ca', 'ca.agentId', 'a.id')
      .select('a.id')
      .where('a.workspaceId', '=', workspaceId)
      .where('ca.channelId', '=', conv.channelId);
    q =
      e.name === 'conversation.queued'
        ? q.where('ca.serving', '=', 1)
        : q.where('a.id', '=', conv.agentId ?? '');
    const ids = (await q.execute()).map((r) => r.id);
    return {
      name: e.name,
      conv: {
        id: conv.id,
        who: conv.customer.nickname ?? conv.customer.openid,
        preview: conv.lastPreview,
      },
      targets: await this.targets(workspaceId, ids),
    };
  }

  private async planMessage(
    workspaceId: string,
    message: { conversationId: string; createdAt: number },
  ): Promise<Plan | null> {
    const conv = await this.ctx.db
      .selectFrom('conversations as c')
      .innerJoin('customers as cu', 'cu.id', 'c.customerId')
      .select(['c.id', 'c.state', 'c.agentId', 'c.acceptedAt', 'c.lastPreview'])
      .select(['cu.nickname', 'cu.openid'])
      .where('c.id', '=', message.conversationId)
      .where('c.workspaceId', '=', workspaceId)
      .executeTakeFirst();
    if (!conv?.agentId || (conv.state !== 'active' && conv.state !== 'idle')) return null;
    // A message from before the agent accepted was announced by the queued/assigned reminder.
    if (conv.acceptedAt !== null && Number(conv.acceptedAt) >= message.createdAt) return null;
    const last = this.lastMessageReminder.get(`${conv.agentId}:${conv.id}`) ?? 0;
    if (this.ctx.now() - last < MESSAGE_COOLDOWN_MS) return null;
    return {
      name: 'message.created',
      conv: { id: conv.id, who: conv.nickname ?? conv.openid, preview: conv.lastPreview },
      targets: await this.targets(workspaceId, [conv.agentId]),
    };
  }

  /** Of `agentIds`, those online, enabled, with no live console and at least one route. */
  private async targets(workspaceId: string, agentIds: string[]): Promise<Target[]> {
    if (agentIds.length === 0) return [];
    const { ctx } = this;
    const agents = await ctx.db
      .selectFrom('agents')
      .select(['id', 'notifications'])
      .where('workspaceId', '=', workspaceId)
      .where('id', 'in', agentIds)
      .where('status', '=', 'online')
      .where('disabled', '=', 0)
      .execute();
    const out: Target[] = [];
    for (const a of agents) {
      if (await this.presence.isConnected(a.id)) continue;
      // An agent who never registered a browser has no Web Push route: no error to record.
      const push = a.notifications === 1 && (await this.hasPushSubscription(a.id));
      const robot = await loadRobot(ctx, a.id);
      if (push || robot) out.push({ agentId: a.id, push, robot });
    }
    return out;
  }

  private async send(workspaceId: string, plan: Plan): Promise<void> {
    const { ctx } = this;
    const title = TITLES[plan.name];
    const body = `${plan.conv.who}：${plan.conv.preview || '进入了客服会话'}`;
    const payload: PushPayload = { title, body, conversationId: plan.conv.id };
    await Promise.all(
      plan.targets.map(async (t) => {
        const reminder: Reminder = {
          agentId: t.agentId,
          title,
          body,
          conversationId: plan.conv.id,
          routes: {},
        };
        this.log.push(reminder);
        if (this.log.length > 1000) this.log.shift();
        if (plan.name === 'message.created') this.noteMessageReminder(t.agentId, plan.conv.id);
        const { robot } = t;
        await Promise.all([
          t.push
            ? this.attempt(workspaceId, t.agentId, 'web_push', reminder, () =>
                sendWebPush(ctx, t.agentId, payload),
              )
            : undefined,
          robot
            ? this.attempt(workspaceId, t.agentId, 'wecom_robot', reminder, () =>
                sendRobotText(ctx, robot, robotText(ctx.config.publicUrl, payload)),
              )
            : undefined,
        ]);
      }),
    );
  }

  private noteMessageReminder(agentId: string, conversationId: string): void {
    if (this.lastMessageReminder.size > 10_000) this.lastMessageReminder.clear();
    this.lastMessageReminder.set(`${agentId}:${conversationId}`, this.ctx.now());
  }

  private async hasPushSubscription(agentId: string): Promise<boolean> {
    const row = await this.ctx.db
      .selectFrom('pushSubscriptions')
      .select('id')
      .where('agentId', '=', agentId)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Runs one route, keeps its outcome; a failure is logged and recorded, never thrown. */
  private async attempt(
    workspaceId: string,
    agentId: string,
    route: ReminderRoute,
    reminder: Reminder,
    run: () => Promise<RouteOutcome>,
  ): Promise<void> {
    let outcome: RouteOutcome;
    try {
      outcome = await run();
    } catch (err) {
      outcome = { ok: false, detail: err instanceof Error ? err.message : String(err) };
    }
    reminder.routes[route] = outcome;
    if (!outcome.ok)
      this.ctx.log.warn({ agentId, route, reason: outcome.detail }, 'reminder failed');
    await recordOutcome(this.ctx, workspaceId, agentId, route, outcome).catch((err: unknown) =>
      this.ctx.log.warn({ err, agentId, route }, 'reminder outcome not recorded'),
    );
  }
}

/** The robot's text: what happened, who wrote, and a link into the console when Kefu knows its URL. */
export function robotText(publicUrl: string | undefined, p: PushPayload): string {
  const link =
    publicUrl && p.conversationId
      ? `\n${publicUrl.replace(/\/+$/, '')}/desk/${p.conversationId}`
      : '';
  return `【客服台】${p.title}\n${p.body}${link}`;
}
