import type { Conversation } from '@kefu/shared';
import type { AppContext, Unit } from '../../context';
import { AppError } from '../../errors';
import { type Caller, isSupervising } from '../agents/auth';
import { agentName, refusal, transition, tryTransition, type ConvRow } from './lifecycle';
import { conversationStorage } from './storage';
import { recordAudit } from '../audit/audit-service';
import { loadConversation } from './views';

/**
 * Reads a conversation for a change. The customer's lock comes first, then (PostgreSQL) the
 * row's own: the order the ingest path takes them, so the two can never deadlock.
 */
export async function lockConversation(ctx: AppContext, u: Unit, caller: Caller, id: string) {
  const storage = conversationStorage(ctx.dialect);
  const ref = await u.tx
    .selectFrom('conversations')
    .select('customerId')
    .where('id', '=', id)
    .where('workspaceId', '=', caller.workspaceId)
    .executeTakeFirst();
  if (!ref) throw new AppError('CONV_NOT_FOUND');
  await storage.lockCustomers(u.tx, [ref.customerId]);
  const conv = await storage
    .forUpdate(u.tx.selectFrom('conversations').selectAll().where('id', '=', id))
    .executeTakeFirst();
  if (!conv) throw new AppError('CONV_NOT_FOUND');
  return conv;
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
 * Accepts a queued conversation, or re-accepts the caller's idle one (重新接入). The claim is the
 * lifecycle's conditional update, the same one auto-assign uses: of two agents accepting at once
 * exactly one row changes; the other is told who won with CONV_ALREADY_TAKEN.
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
    // Accepting what one already holds is a no-op, not a lost race (a double click).
    if (conv.state === 'active' && conv.agentId === caller.agentId)
      return loadConversation(u.tx, caller.workspaceId, id, now);
    // Someone else's idle conversation is theirs to re-accept, unless a supervisor takes it.
    if (conv.state === 'idle' && conv.agentId !== caller.agentId && !isSupervising(caller.role))
      throw await refusal(u, id);
    const accepted = await transition(ctx, u, {
      action: 'accept',
      conv,
      now,
      to: { agentId: caller.agentId, agentName: await agentName(u, caller.agentId) },
    });
    await recordAudit(ctx, u, {
      workspaceId: caller.workspaceId,
      actor: caller,
      action: 'conversation.accept',
      target: { type: 'conversation', id },
      details: { from: conv.state },
    });
    return accepted;
  });
}

/** Ends a conversation; the customer's next message opens a new one. */
export async function closeConversation(
  ctx: AppContext,
  caller: Caller,
  id: string,
): Promise<Conversation> {
  return ctx.transact(async (u) => {
    const conv = await lockConversation(ctx, u, caller, id);
    const now = ctx.now();
    if (conv.state === 'closed') return loadConversation(u.tx, caller.workspaceId, id, now);
    if (conv.agentId !== caller.agentId && !isSupervising(caller.role)) {
      if (conv.state !== 'queued') throw new AppError('CONV_NOT_YOURS');
      await assertBound(u, caller.agentId, conv.channelId);
    }
    const closed = await transition(ctx, u, {
      action: 'close',
      conv,
      now,
      line: { agentId: caller.agentId, agentName: await agentName(u, caller.agentId) },
    });
    await recordAudit(ctx, u, {
      workspaceId: caller.workspaceId,
      actor: caller,
      action: 'conversation.close',
      target: { type: 'conversation', id },
      details: { from: conv.state },
    });
    return closed;
  });
}

/** Hands an active (or idle) conversation to a colleague who is bound to the channel and online. */
export async function transferConversation(
  ctx: AppContext,
  caller: Caller,
  id: string,
  toAgentId: string,
  note?: string,
): Promise<Conversation> {
  return ctx.transact(async (u) => {
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
    const moved = await transition(ctx, u, {
      action: 'transfer',
      conv,
      now: ctx.now(),
      to: { agentId: target.id, agentName: target.displayName },
      line: {
        fromAgentName: await agentName(u, caller.agentId),
        toAgentId: target.id,
        toAgentName: target.displayName,
        note: note ?? '',
      },
    });
    await recordAudit(ctx, u, {
      workspaceId: caller.workspaceId,
      actor: caller,
      action: 'conversation.transfer',
      target: { type: 'conversation', id },
      details: { fromAgentId: conv.agentId, toAgentId: target.id, note: note ?? '' },
    });
    return moved;
  });
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
    .select(['id', 'workspaceId', 'channelId', 'customerId', 'state', 'agentId'])
    .where('workspaceId', '=', workspaceId)
    .where('agentId', '=', agentId)
    .where('state', '=', 'active')
    .execute();
  await idleConversations(u, ctx, convs, reason);
}

/**
 * Makes active conversations idle; one that changed meanwhile is skipped. `quietBefore`: only
 * those with no message since (the sweeper's cutoff, re-checked by the conditional update).
 */
export async function idleConversations(
  u: Unit,
  ctx: AppContext,
  convs: ConvRow[],
  reason: string,
  quietBefore?: number,
): Promise<number> {
  // All the customers first, in the ingest writer's order (storage.ts): no lock cycle with it.
  await conversationStorage(ctx.dialect).lockCustomers(
    u.tx,
    convs.map((c) => c.customerId),
  );
  let changed = 0;
  for (const conv of convs) {
    const done = await tryTransition(ctx, u, {
      action: 'idle',
      conv,
      now: ctx.now(),
      line: { reason },
      ...(quietBefore === undefined ? {} : { quietBefore }),
    });
    if (done) changed++;
  }
  return changed;
}
