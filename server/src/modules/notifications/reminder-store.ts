import type { MyReminderRoutes, ReminderRoute } from '@kefu/shared';
import type { AppContext } from '../../context';
import { keyHint } from './wecom-robot';
import type { RouteOutcome } from './web-push';

/** The sealed settings of an agent's robot route. */
export interface RobotConfig {
  key: string;
  mention: string;
}

/** Reason strings are shown on the settings page; a hostile answer must not fill the row. */
const MAX_ERROR = 300;

/** The agent's robot (key opened from its sealed form), or null when none is set. */
export async function loadRobot(ctx: AppContext, agentId: string): Promise<RobotConfig | null> {
  const row = await ctx.db
    .selectFrom('reminderRoutes')
    .select('configEnc')
    .where('agentId', '=', agentId)
    .where('route', '=', 'wecom_robot')
    .executeTakeFirst();
  return row?.configEnc ? ctx.secrets.open<RobotConfig>(row.configEnc) : null;
}

/** Stores (or replaces) the agent's robot, sealed like channel secrets; the last outcome resets. */
export async function saveRobot(
  ctx: AppContext,
  workspaceId: string,
  agentId: string,
  robot: RobotConfig,
): Promise<void> {
  const values = {
    configEnc: ctx.secrets.seal(robot),
    lastOkAt: null,
    lastError: null,
    lastErrorAt: null,
    updatedAt: ctx.now(),
  };
  await ctx.db
    .insertInto('reminderRoutes')
    .values({ agentId, route: 'wecom_robot', workspaceId, ...values })
    .onConflict((oc) => oc.columns(['agentId', 'route']).doUpdateSet(values))
    .execute();
}

/** Forgets the agent's robot. */
export async function deleteRobot(ctx: AppContext, agentId: string): Promise<void> {
  await ctx.db
    .deleteFrom('reminderRoutes')
    .where('agentId', '=', agentId)
    .where('route', '=', 'wecom_robot')
    .execute();
}

/** Keeps a route's last success or last error, for the settings page. */
export async function recordOutcome(
  ctx: AppContext,
  workspaceId: string,
  agentId: string,
  route: ReminderRoute,
  outcome: RouteOutcome,
): Promise<void> {
  const now = ctx.now();
  const values = outcome.ok
    ? { lastOkAt: now, updatedAt: now }
    : { lastError: outcome.detail.slice(0, MAX_ERROR), lastErrorAt: now, updatedAt: now };
  if (route === 'wecom_robot') {
    // Only an existing robot row is updated: a robot removed meanwhile stays removed.
    await ctx.db
      .updateTable('reminderRoutes')
      .set(values)
      .where('agentId', '=', agentId)
      .where('route', '=', route)
      .execute();
    return;
  }
  await ctx.db
    .insertInto('reminderRoutes')
    .values({ agentId, route, workspaceId, configEnc: null, ...values })
    .onConflict((oc) => oc.columns(['agentId', 'route']).doUpdateSet(values))
    .execute();
}

/** What the settings page shows: each route's state and last outcome. */
export async function listRoutes(
  ctx: AppContext,
  workspaceId: string,
  agentId: string,
): Promise<MyReminderRoutes> {
  const ws = await ctx.db
    .selectFrom('workspaces')
    .select('presenceRule')
    .where('id', '=', workspaceId)
    .executeTakeFirstOrThrow();
  const rows = await ctx.db
    .selectFrom('reminderRoutes')
    .selectAll()
    .where('agentId', '=', agentId)
    .execute();
  const subs = await ctx.db
    .selectFrom('pushSubscriptions')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('agentId', '=', agentId)
    .executeTakeFirstOrThrow();
  const status = (r: (typeof rows)[number] | undefined) => ({
    lastOkAt: r?.lastOkAt == null ? null : Number(r.lastOkAt),
    lastError: r?.lastError ?? null,
    lastErrorAt: r?.lastErrorAt == null ? null : Number(r.lastErrorAt),
  });
  const push = rows.find((r) => r.route === 'web_push');
  const robotRow = rows.find((r) => r.route === 'wecom_robot');
  const robot = robotRow?.configEnc ? ctx.secrets.open<RobotConfig>(robotRow.configEnc) : null;
  return {
    webPush: { ...status(push), subscriptions: Number(subs.n) },
    wecomRobot: robot
      ? { ...status(robotRow), keyHint: keyHint(robot.key), mention: robot.mention }
      : null,
    presence: { rule: ws.presenceRule, graceSeconds: ctx.config.presenceGraceSeconds },
  };
}
