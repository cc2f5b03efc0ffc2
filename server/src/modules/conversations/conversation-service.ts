import type { Conversation } from '@kefu/shared';
import type { AppContext, Unit } from '../../context';
import { AppError } from '../../errors';
import { type Caller, isSupervising } from '../agents/auth';
import { contextLine } from './conversation-repo';
import { loadConversation } from './views';

/** Reads a conversation for a change; on PostgreSQL the row stays locked until commit. */
async function lockConversation(ctx: AppContext, u: Unit, caller: Caller, id: string) {
  let q = u.tx
    .selectFrom('conversations')
    .selectAll()
    .where('id', '=', id)
    .where('workspaceId', '=', caller.workspaceId);
  if (ctx.dialect === 'postgres') q = q.forUpdate();
  const conv = await q.executeTakeFirst();
  if (!conv) throw new AppError('CONV_NOT_FOUND');
  return conv;
}

async function agentName(u: Unit, agentId: string): Promise<string> {
  const a = await u.tx
    .selectFrom('agents')
    .select('displayName')
    .where('id', '=', agentId)
    .executeTakeFirst();
  return a?.displayName ?? '';
}

export async function assertBound(u: Unit, agentId: string, channelId: string): Promise<void> {
  const bound = await u.tx
    .selectFrom('channelAgents')
    .select('agentId')
    .where('agentId', '=', agentId)
    .where('channelId', '=', channelId)
    .executeTakeFirst();
  if (!bound) throw new AppError('AGENT_NOT_BOUND');
}

/**
 * Accepts a queued conversation, or re-accepts the caller's idle one (重新接入). The claim is a
 * conditional update: of two agents accepting at once exactly one row changes; the other is told
 * who won with CONV_ALREADY_TAKEN.
 */
export async function acceptConversation(
  ctx: AppContext,
  caller: Caller,
  id: string,
): Promise<Conversation> {
  return ctx.transact(async (u) => {
    const conv = await lockConversation(ctx, u, caller, id);
    await assertBound(u, caller.agentId, conv.channelId);
    const now = ctx.now();
    const taken = async (): Promise<never> => {
      const winner = await u.tx
        .selectFrom('conversations')
        .select('agentId')
        .where('id', '=', id)
        .executeTakeFirst();
      const winnerId = winner?.agentId ?? null;
      throw new AppError('CONV_ALREADY_TAKEN', undefined, {
        agentId: winnerId,
        agentName: winnerId ? await agentName(u, winnerId) : null,
      });
    };
    if (conv.state === 'closed') throw new AppError('CONV_CLOSED');
    if (conv.state === 'active') {
      if (conv.agentId === caller.agentId)
        return loadConversation(u.tx, caller.workspaceId, id, now);
      return taken();
    }
    const from = conv.state;
    if (from === 'idle' && conv.agentId !== caller.agentId && !isSupervising(caller.role))
      return taken();
    const res = await u.tx
      .updateTable('conversations')
      .set({
        state: 'active',
        agentId: caller.agentId,
        preferredAgentId: caller.agentId,
        acceptedAt: now,
        updatedAt: now,
      })
      .where('id', '=', id)
      .where('state', '=', from)
      .where((eb) => (from === 'idle' ? eb('agentId', '=', conv.agentId) : eb.lit(true)))
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) return taken();
    await u.tx
      .updateTable('agents')
      .set({ lastAssignedAt: now })
      .where('id', '=', caller.agentId)
      .execute();
    const name = await agentName(u, caller.agentId);
    await contextLine(
      u,
      conv,
      from === 'idle' ? 'reaccepted' : 'accepted',
      { agentId: caller.agentId, agentName: name },
      now,
    );
    const conversation = await loadConversation(u.tx, caller.workspaceId, id, now);
    await u.emit(
      caller.workspaceId,
      { channelId: conv.channelId },
      { name: 'conversation.assigned', data: { conversation } },
    );
    return conversation;
  });
}

/** Ends a conversation; the customer's next message opens a new one. */
export async function closeConversation(
  ctx: AppContext,
  caller: Caller,
  id: string,
): Promise<Conversation> {
  const conversation = await ctx.transact(async (u) => {
    const conv = await lockConversation(ctx, u, caller, id);
    if (conv.state === 'closed') return loadConversation(u.tx, caller.workspaceId, id, ctx.now());
    if (conv.agentId !== caller.agentId && !isSupervising(caller.role)) {
      if (conv.state !== 'queued') throw new AppError('CONV_NOT_YOURS');
      await assertBound(u, caller.agentId, conv.channelId);
    }
    const now = ctx.now();
    await u.tx
      .updateTable('conversations')
      .set({ state: 'closed', closedAt: now, updatedAt: now })
      .where('id', '=', id)
      .execute();
    await contextLine(
      u,
      conv,
      'closed',
      { agentId: caller.agentId, agentName: await agentName(u, caller.agentId) },
      now,
    );
    const view = await loadConversation(u.tx, caller.workspaceId, id, now);
    await u.emit(
      caller.workspaceId,
      { channelId: conv.channelId },
      { name: 'conversation.closed', data: { conversation: view } },
    );
    return view;
  });
  ctx.kicks.assignment(caller.workspaceId, conversation.channelId);
  return conversation;
}

/** Hands an active (or idle) conversation to a colleague who is bound to the channel and online. */
export async function transferConversation(
  ctx: AppContext,
  caller: Caller,
  id: string,
  toAgentId: string,
  note?: string,
): Promise<Conversation> {
  const conversation = await ctx.transact(async (u) => {
    const conv = await lockConversation(ctx, u, caller, id);
    if (conv.state === 'closed') throw new AppError('CONV_CLOSED');
    if (conv.agentId !== caller.agentId && !isSupervising(caller.role))
      throw new AppError('CONV_NOT_YOURS');
    const target = await u.tx
      .selectFrom('agents')
      .select(['id', 'status', 'displayName'])
      .where('id', '=', toAgentId)
      .where('workspaceId', '=', caller.workspaceId)
      .where('disabled', '=', 0)
      .executeTakeFirst();
    if (!target) throw new AppError('NOT_FOUND', 'No such agent');
    await assertBound(u, target.id, conv.channelId);
    if (target.status !== 'online') throw new AppError('AGENT_NOT_ONLINE');
    const now = ctx.now();
    await u.tx
      .updateTable('conversations')
      .set({
        state: 'active',
        agentId: target.id,
        preferredAgentId: target.id,
        acceptedAt: now,
        updatedAt: now,
      })
      .where('id', '=', id)
      .execute();
    const fromName = await agentName(u, caller.agentId);
    await contextLine(
      u,
      conv,
      'transferred',
      {
        fromAgentName: fromName,
        toAgentId: target.id,
        toAgentName: target.displayName,
        note: note ?? '',
      },
      now,
    );
    const view = await loadConversation(u.tx, caller.workspaceId, id, now);
    await u.emit(
      caller.workspaceId,
      { channelId: conv.channelId },
      {
        name: 'conversation.transferred',
        data: { conversation: view, fromAgentId: conv.agentId },
      },
    );
    return view;
  });
  ctx.kicks.assignment(caller.workspaceId, conversation.channelId);
  return conversation;
}

/** Makes an agent's active conversations idle (they logged out or lost every connection). */
export async function idleAgentConversations(
  u: Unit,
  ctx: AppContext,
  workspaceId: string,
  agentId: string,
  reason: string,
): Promise<void> {
  const convs = await u.tx
    .selectFrom('conversations')
    .select(['id', 'workspaceId', 'channelId', 'customerId'])
    .where('agentId', '=', agentId)
    .where('state', '=', 'active')
    .execute();
  await idleConversations(u, ctx, workspaceId, convs, reason);
}

export async function idleConversations(
  u: Unit,
  ctx: AppContext,
  workspaceId: string,
  convs: { id: string; workspaceId: string; channelId: string; customerId: string }[],
  reason: string,
): Promise<void> {
  const now = ctx.now();
  for (const conv of convs) {
    const res = await u.tx
      .updateTable('conversations')
      .set({ state: 'idle', updatedAt: now })
      .where('id', '=', conv.id)
      .where('state', '=', 'active')
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) continue;
    await contextLine(u, conv, 'idled', { reason }, now);
    const conversation = await loadConversation(u.tx, workspaceId, conv.id, now);
    await u.emit(
      workspaceId,
      { channelId: conv.channelId },
      { name: 'conversation.idled', data: { conversation } },
    );
  }
}
