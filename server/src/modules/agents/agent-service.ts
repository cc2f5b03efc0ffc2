import { LIMITS, type Agent, type AgentStatus, type Role } from '@kefu/shared';
import type { Selectable } from 'kysely';
import type { AppContext, Unit } from '../../context';
import type { Queryable } from '../../db/index';
import type { AgentTable } from '../../db/schema';
import { AppError } from '../../errors';
import { newId } from '../../lib/ids';
import { idleAgentConversations } from '../conversations/conversation-service';
import { drainForAgent } from '../conversations/assignment';
import { lockChannel } from '../channels/channel-store';
import { revokeSockets } from '../realtime/revoke';
import { recordAudit, type AuditActor } from '../audit/audit-service';
import { hashPassword } from './password';

/** Agents with their bindings and current load, as the API shows them. */
export async function loadAgents(
  db: Queryable,
  workspaceId: string,
  ids?: string[],
): Promise<Agent[]> {
  let q = db.selectFrom('agents').selectAll().where('workspaceId', '=', workspaceId);
  if (ids) {
    if (ids.length === 0) return [];
    q = q.where('id', 'in', ids);
  }
  const rows = await q.orderBy('createdAt').execute();
  if (rows.length === 0) return [];
  const agentIds = rows.map((r) => r.id);
  const bindings = await db
    .selectFrom('channelAgents')
    .select(['agentId', 'channelId', 'serving'])
    .where('agentId', 'in', agentIds)
    .execute();
  const loads = await db
    .selectFrom('conversations')
    .select((eb) => ['agentId', eb.fn.countAll<number>().as('n')])
    .where('state', '=', 'active')
    .where('agentId', 'in', agentIds)
    .groupBy('agentId')
    .execute();
  return rows.map((r) =>
    toAgent(
      r,
      bindings.filter((b) => b.agentId === r.id),
      Number(loads.find((l) => l.agentId === r.id)?.n ?? 0),
    ),
  );
}

function toAgent(
  r: Selectable<AgentTable>,
  bindings: { channelId: string; serving: number }[],
  activeCount: number,
): Agent {
  return {
    id: r.id,
    login: r.login,
    displayName: r.displayName,
    role: r.role,
    status: r.status,
    capacity: r.capacity,
    autoAccept: r.autoAccept === 1,
    notifications: r.notifications === 1,
    disabled: r.disabled === 1,
    channels: bindings.map((b) => ({ channelId: b.channelId, serving: b.serving === 1 })),
    activeCount,
  };
}

export async function loadAgent(db: Queryable, workspaceId: string, id: string): Promise<Agent> {
  const [agent] = await loadAgents(db, workspaceId, [id]);
  if (!agent) throw new AppError('NOT_FOUND', 'No such agent');
  return agent;
}

/**
 * Creates an agent (or the workspace owner); logins are unique across the deployment. The agent
 * and its bindings are one transaction: a refused binding (unknown channel, the 101st agent)
 * leaves no agent behind.
 */
export async function createAgent(
  ctx: AppContext,
  workspaceId: string,
  input: {
    login: string;
    displayName: string;
    password: string;
    role: Role;
    capacity: number;
    channelIds: string[];
  },
  audit?: AuditActor,
): Promise<Agent> {
  const passwordHash = await hashPassword(input.password, ctx.config.passwordCost);
  const id = newId();
  await ctx.transact(async (u) => {
    const taken = await u.tx
      .selectFrom('agents')
      .select('id')
      .where('login', '=', input.login)
      .executeTakeFirst();
    if (taken) throw new AppError('AGENT_LOGIN_TAKEN');
    const now = ctx.now();
    await u.tx
      .insertInto('agents')
      .values({
        id,
        workspaceId,
        login: input.login,
        displayName: input.displayName,
        passwordHash,
        role: input.role,
        status: 'offline',
        capacity: input.capacity,
        autoAccept: 0,
        notifications: 1,
        lastAssignedAt: 0,
        statusChangedAt: now,
        disconnectedAt: null,
        disabled: 0,
        createdAt: now,
      })
      .execute();
    for (const channelId of input.channelIds) await bindAgentIn(u, now, workspaceId, channelId, id);
    if (audit) {
      const { login, displayName, role, capacity, channelIds } = input;
      await recordAudit(ctx, u, {
        workspaceId,
        actor: audit,
        action: 'agent.create',
        target: { type: 'agent', id },
        details: { login, displayName, role, capacity, channelIds },
      });
    }
  });
  return loadAgent(ctx.db, workspaceId, id);
}

/**
 * Queues `agent.access_changed` for each agent in the unit that changes what they may see (their
 * bindings, role or disabled flag). Committed with the change, its sequence orders the change
 * against every other event: the gateway reloads the agent's access before any later event.
 */
export async function emitAccessChanged(
  u: Unit,
  workspaceId: string,
  agentIds: Iterable<string>,
): Promise<void> {
  for (const agentId of agentIds)
    await u.emit(workspaceId, { agentId }, { name: 'agent.access_changed', data: { agentId } });
}

/** Binds an agent to a channel; the 101st agent of a channel is refused with CHANNEL_AGENT_LIMIT. */
export async function bindAgent(
  ctx: AppContext,
  workspaceId: string,
  channelId: string,
  agentId: string,
): Promise<void> {
  await ctx.transact(async (u) => {
    if (await bindAgentIn(u, ctx.now(), workspaceId, channelId, agentId))
      await emitAccessChanged(u, workspaceId, [agentId]);
  });
}

/** Inserts the binding unless it exists; returns whether it did. */
async function bindAgentIn(
  u: Unit,
  now: number,
  workspaceId: string,
  channelId: string,
  agentId: string,
): Promise<boolean> {
  await lockChannel(u.tx, workspaceId, channelId);
  const agent = await u.tx
    .selectFrom('agents')
    .select('id')
    .where('id', '=', agentId)
    .where('workspaceId', '=', workspaceId)
    .executeTakeFirst();
  if (!agent) throw new AppError('NOT_FOUND', 'No such agent');
  const exists = await u.tx
    .selectFrom('channelAgents')
    .select('agentId')
    .where('channelId', '=', channelId)
    .where('agentId', '=', agentId)
    .executeTakeFirst();
  if (exists) return false;
  const { n } = await u.tx
    .selectFrom('channelAgents')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('channelId', '=', channelId)
    .executeTakeFirstOrThrow();
  if (Number(n) >= LIMITS.agentsPerChannel) {
    throw new AppError(
      'CHANNEL_AGENT_LIMIT',
      `A channel can have at most ${LIMITS.agentsPerChannel} agents`,
      { limit: LIMITS.agentsPerChannel },
    );
  }
  await u.tx
    .insertInto('channelAgents')
    .values({ channelId, agentId, workspaceId, serving: 1, createdAt: now })
    .execute();
  return true;
}

/** Removes an agent from a channel; their sockets stop getting its events from the next one on. */
export async function unbindAgent(
  ctx: AppContext,
  workspaceId: string,
  channelId: string,
  agentId: string,
): Promise<void> {
  await ctx.transact(async (u) => {
    const res = await u.tx
      .deleteFrom('channelAgents')
      .where('channelId', '=', channelId)
      .where('agentId', '=', agentId)
      .where('workspaceId', '=', workspaceId)
      .executeTakeFirst();
    if (Number(res.numDeletedRows) > 0) await emitAccessChanged(u, workspaceId, [agentId]);
  });
}

/**
 * Sets an agent's status, the one truth across their devices. Offline makes their active
 * conversations idle; online drains the queues they serve.
 */
export async function setStatus(
  ctx: AppContext,
  workspaceId: string,
  agentId: string,
  status: AgentStatus,
  reason = 'logout',
  audit?: AuditActor,
): Promise<Agent> {
  const changed = await ctx.transact(async (u) => {
    const agent = await u.tx
      .selectFrom('agents')
      .select(['status'])
      .where('id', '=', agentId)
      .where('workspaceId', '=', workspaceId)
      .executeTakeFirst();
    if (!agent) throw new AppError('NOT_FOUND', 'No such agent');
    const now = ctx.now();
    // Coming online starts the disconnect grace: without a live connection soon, presence turns it offline.
    await u.tx
      .updateTable('agents')
      .set({
        status,
        statusChangedAt: now,
        ...(status !== 'offline' && agent.status === 'offline' ? { disconnectedAt: now } : {}),
      })
      .where('id', '=', agentId)
      .execute();
    if (agent.status === status) return false;
    if (status === 'offline') await idleAgentConversations(u, ctx, workspaceId, agentId, reason);
    if (audit)
      await recordAudit(ctx, u, {
        workspaceId,
        actor: audit,
        action: 'agent.status_change',
        target: { type: 'agent', id: agentId },
        details: { from: agent.status, to: status },
      });
    await u.emit(workspaceId, {}, { name: 'agent.status_changed', data: { agentId, status } });
    return true;
  });
  if (changed && status === 'online') await drainForAgent(ctx, workspaceId, agentId);
  return loadAgent(ctx.db, workspaceId, agentId);
}

/** An agent's own desk settings: auto-accept, capacity, notifications, which channels to serve. */
export async function updateMySettings(
  ctx: AppContext,
  workspaceId: string,
  agentId: string,
  input: {
    autoAccept?: boolean | undefined;
    capacity?: number | undefined;
    notifications?: boolean | undefined;
    servingChannelIds?: string[] | undefined;
  },
): Promise<Agent> {
  const changes = {
    ...(input.autoAccept !== undefined ? { autoAccept: input.autoAccept ? 1 : 0 } : {}),
    ...(input.capacity !== undefined ? { capacity: input.capacity } : {}),
    ...(input.notifications !== undefined ? { notifications: input.notifications ? 1 : 0 } : {}),
  };
  // A body with only servingChannelIds has nothing for this row (an empty SET is an error).
  if (Object.keys(changes).length > 0)
    await ctx.db.updateTable('agents').set(changes).where('id', '=', agentId).execute();
  if (input.servingChannelIds) {
    const serving = input.servingChannelIds;
    const bound = await ctx.db
      .selectFrom('channelAgents')
      .select('channelId')
      .where('agentId', '=', agentId)
      .execute();
    for (const b of bound) {
      await ctx.db
        .updateTable('channelAgents')
        .set({ serving: serving.includes(b.channelId) ? 1 : 0 })
        .where('agentId', '=', agentId)
        .where('channelId', '=', b.channelId)
        .execute();
    }
  }
  await drainForAgent(ctx, workspaceId, agentId);
  return loadAgent(ctx.db, workspaceId, agentId);
}

/** Only the owner manages the owner's account (an admin cannot take it over). */
function assertMayManage(target: Agent, actor: { agentId: string; role: Role }): void {
  if (target.role === 'owner' && actor.agentId !== target.id) {
    throw new AppError('AUTH_FORBIDDEN', 'Only the owner can change the owner’s account');
  }
}

export async function updateAgent(
  ctx: AppContext,
  workspaceId: string,
  id: string,
  input: {
    displayName?: string | undefined;
    role?: Role | undefined;
    capacity?: number | undefined;
    disabled?: boolean | undefined;
  },
  actor: { agentId: string; role: Role; ip?: string },
): Promise<Agent> {
  const target = await loadAgent(ctx.db, workspaceId, id);
  assertMayManage(target, actor);
  if (target.role === 'owner' && (input.role || input.disabled))
    throw new AppError('AUTH_FORBIDDEN', 'The owner cannot be demoted or disabled');
  // Announced whenever asked for, not only when it differs from `target`: that was read outside
  // the transaction, and a spurious event only costs the agent's console a light refetch.
  const accessChanged = input.role !== undefined || input.disabled !== undefined;
  await ctx.transact(async (u) => {
    await u.tx
      .updateTable('agents')
      .set({
        ...(input.displayName !== undefined ? { displayName: input.displayName } : {}),
        ...(input.role !== undefined ? { role: input.role } : {}),
        ...(input.capacity !== undefined ? { capacity: input.capacity } : {}),
        ...(input.disabled !== undefined ? { disabled: input.disabled ? 1 : 0 } : {}),
      })
      .where('id', '=', id)
      .execute();
    if (input.disabled) {
      await u.tx
        .updateTable('sessions')
        .set({ revokedAt: ctx.now() })
        .where('agentId', '=', id)
        .where('revokedAt', 'is', null)
        .execute();
    }
    if (accessChanged) await emitAccessChanged(u, workspaceId, [id]);
    await recordAudit(ctx, u, {
      workspaceId,
      actor,
      action: input.disabled ? 'agent.disable' : 'agent.update',
      target: { type: 'agent', id },
      details: { ...input },
    });
  });
  if (input.capacity !== undefined) await drainForAgent(ctx, workspaceId, id);
  if (input.disabled) {
    await setStatus(ctx, workspaceId, id, 'offline', 'disabled');
    // An open socket keeps the caller it had at upgrade: close it on every node.
    revokeSockets(ctx, { workspaceId, agentId: id, reason: 'disabled' });
  } else if (input.role !== undefined && input.role !== target.role) {
    // What a socket may see depends on the role it was opened with: make it reconnect.
    revokeSockets(ctx, { workspaceId, agentId: id, reason: 'role_changed' });
  }
  return loadAgent(ctx.db, workspaceId, id);
}

export async function resetPassword(
  ctx: AppContext,
  workspaceId: string,
  id: string,
  password: string,
  actor: { agentId: string; role: Role; ip?: string },
): Promise<void> {
  assertMayManage(await loadAgent(ctx.db, workspaceId, id), actor);
  await ctx.db
    .updateTable('agents')
    .set({ passwordHash: await hashPassword(password, ctx.config.passwordCost) })
    .where('id', '=', id)
    .execute();
  await ctx.db
    .updateTable('sessions')
    .set({ revokedAt: ctx.now() })
    .where('agentId', '=', id)
    .where('revokedAt', 'is', null)
    .execute();
  revokeSockets(ctx, { workspaceId, agentId: id, reason: 'password_reset' });
  await recordAudit(ctx, null, {
    workspaceId,
    actor,
    action: 'agent.password_reset',
    target: { type: 'agent', id },
  });
}
