import type { Conversation, ConversationState, RealtimeEvent } from '@kefu/shared';
import type { Updateable } from 'kysely';
import type { AppContext, Unit } from '../../context';
import type { ConversationTable } from '../../db/schema';
import { AppError } from '../../errors';
import { newId } from '../../lib/ids';
import { contextLine, type ConvRef } from './conversation-repo';
import { TRANSITIONS, type LifecycleEvent } from './lifecycle-table';
import { conversationStorage } from './storage';
import { loadConversation } from './views';

export {
  canTransition,
  TRANSITIONS,
  type FromState,
  type LifecycleAction,
} from './lifecycle-table';

/** A conversation as its caller read it inside the transaction that changes it. */
export interface ConvRow extends ConvRef {
  state: ConversationState;
  agentId: string | null;
}

/** The agent a conversation goes to (accept, auto-assign, transfer). */
export interface Assignee {
  agentId: string;
  agentName: string;
}

interface Common {
  conv: ConvRow;
  now: number;
  /** The context line's params; for accept and auto-assign, the new holder by default. */
  line?: Record<string, string>;
}

export type TransitionInput =
  | (Common & { action: 'accept' | 'auto_assign' | 'transfer'; to: Assignee })
  /** `quietBefore`: idle only if nothing was written since (the sweeper's cutoff). */
  | (Common & { action: 'idle'; quietBefore?: number })
  /** `windowExpiredAt`: close only if the reply window is still out then (the sweeper's rule). */
  | (Common & { action: 'close'; windowExpiredAt?: number })
  | (Common & { action: 'requeue' | 'hand_back' | 'take_back' });

function columnsFor(t: TransitionInput): Updateable<ConversationTable> {
  const { now } = t;
  switch (t.action) {
    case 'accept':
    case 'auto_assign':
    case 'transfer':
      return {
        state: 'active',
        agentId: t.to.agentId,
        preferredAgentId: t.to.agentId,
        acceptedAt: now,
        updatedAt: now,
      };
    case 'idle':
      return { state: 'idle', updatedAt: now };
    case 'requeue':
      // Back in the queue, but the agent who had it is preferred (sticky) when auto-assigning.
      return {
        state: 'queued',
        queuedAt: now,
        preferredAgentId: t.conv.agentId,
        agentId: null,
        updatedAt: now,
      };
    case 'close':
      return { state: 'closed', closedAt: now, updatedAt: now };
    case 'hand_back':
      // Out of the agent's hands (and capacity); the agent stays preferred if it comes back.
      return {
        state: 'handed_back',
        handedBackAt: now,
        agentId: null,
        ...(t.conv.agentId ? { preferredAgentId: t.conv.agentId } : {}),
        updatedAt: now,
      };
    case 'take_back':
      return { state: 'queued', queuedAt: now, handedBackAt: null, updatedAt: now };
  }
}

/**
 * The conditional UPDATE at the heart of every transition: it applies only while the row still
 * has the state and holder the caller decided on (an allowed from-state, checked first), so of
 * two racing changes exactly one wins; accept and auto-assign claim `active` through this same
 * statement. Then the context line. The caller holds the customer's lock (see storage.ts).
 */
async function apply(u: Unit, t: TransitionInput): Promise<boolean> {
  const rule = TRANSITIONS[t.action];
  const line = rule.from[t.conv.state];
  if (line === undefined) return false;
  const { conv } = t;
  let q = u.tx
    .updateTable('conversations')
    .set(columnsFor(t))
    .where('id', '=', conv.id)
    .where('state', '=', conv.state)
    .where('agentId', conv.agentId === null ? 'is' : '=', conv.agentId);
  if (t.action === 'idle' && t.quietBefore !== undefined)
    q = q.where('lastMessageAt', '<', t.quietBefore);
  if (t.action === 'close' && t.windowExpiredAt !== undefined) {
    const at = t.windowExpiredAt;
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('customers')
          .select('customers.id')
          .where('customers.id', '=', conv.customerId)
          .where('customers.windowExpiresAt', '<', at),
      ),
    );
  }
  const res = await q.executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) return false;
  if (rule.stampsAgent && 'to' in t) {
    await u.tx
      .updateTable('agents')
      .set({ lastAssignedAt: t.now })
      .where('id', '=', t.to.agentId)
      .execute();
  }
  if (line !== null) {
    const params =
      t.line ?? ('to' in t ? { agentId: t.to.agentId, agentName: t.to.agentName } : {});
    await contextLine(u, conv, line, params, t.now);
  }
  return true;
}

/**
 * Performs one transition: locks the customer, runs the conditional update, writes the context
 * line, emits the event and wakes the queue where capacity may have appeared. Returns the new
 * view, or null when the transition is not allowed from the row's state or lost a race (the
 * background callers skip; the next sweep or drain sees the row as it is now).
 */
export async function tryTransition(
  ctx: AppContext,
  u: Unit,
  t: TransitionInput,
): Promise<Conversation | null> {
  await conversationStorage(ctx.dialect).lockCustomers(u.tx, [t.conv.customerId]);
  if (!(await apply(u, t))) return null;
  const rule = TRANSITIONS[t.action];
  const { conv } = t;
  const conversation = await loadConversation(u.tx, conv.workspaceId, conv.id, t.now);
  await u.emit(
    conv.workspaceId,
    { channelId: conv.channelId },
    eventOf(rule.event, conversation, conv),
  );
  if (rule.kicksQueue) u.after(() => ctx.kicks.assignment(conv.workspaceId, conv.channelId));
  return conversation;
}

function eventOf(name: LifecycleEvent, conversation: Conversation, before: ConvRow): RealtimeEvent {
  if (name === 'conversation.transferred')
    return { name, data: { conversation, fromAgentId: before.agentId } };
  return { name, data: { conversation } };
}

/** As tryTransition, but a refused or lost transition throws the AppError the caller should see. */
export async function transition(
  ctx: AppContext,
  u: Unit,
  t: TransitionInput,
): Promise<Conversation> {
  const done = await tryTransition(ctx, u, t);
  if (done) return done;
  throw await refusal(u, t.conv.id);
}

/** A display name for context lines and refusals ('' if the agent is gone). */
export async function agentName(u: Unit, agentId: string): Promise<string> {
  const a = await u.tx
    .selectFrom('agents')
    .select('displayName')
    .where('id', '=', agentId)
    .executeTakeFirst();
  return a?.displayName ?? '';
}

/**
 * Why a transition cannot happen, from the row as it is now: gone, closed, or held by someone
 * else (CONV_ALREADY_TAKEN names who, so the loser of a race is told the winner).
 */
export async function refusal(u: Unit, id: string): Promise<AppError> {
  const row = await u.tx
    .selectFrom('conversations')
    .select(['state', 'agentId'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) return new AppError('CONV_NOT_FOUND');
  if (row.state === 'closed') return new AppError('CONV_CLOSED');
  return new AppError('CONV_ALREADY_TAKEN', undefined, {
    agentId: row.agentId,
    agentName: row.agentId ? await agentName(u, row.agentId) : null,
  });
}

/**
 * Ingest: a customer message for an idle conversation puts it back in the queue, preferring the
 * agent who had it, and writes the `requeued` line. The caller holds the customer's lock (its
 * customer upsert), emits `conversation.queued` once its message is in, and kicks assignment.
 * False: the row is no longer idle with that agent (the caller should re-read it).
 */
export function requeueIdle(u: Unit, conv: ConvRow, now: number): Promise<boolean> {
  return apply(u, { action: 'requeue', conv, now });
}

/**
 * Ingest: opens a queued conversation for a customer who has no open one (`open`). The caller
 * holds the customer's lock, so two pushes cannot both open one; it emits `conversation.queued`
 * once its message is in, and kicks assignment.
 */
export async function openConversation(
  u: Unit,
  ref: Omit<ConvRef, 'id'>,
  preferredAgentId: string | null,
  now: number,
): Promise<ConvRow> {
  const id = newId();
  await u.tx
    .insertInto('conversations')
    .values({
      id,
      workspaceId: ref.workspaceId,
      channelId: ref.channelId,
      customerId: ref.customerId,
      state: TRANSITIONS.open.to,
      agentId: null,
      preferredAgentId,
      sessionFrom: null,
      nextSeq: 1,
      queuedAt: now,
      acceptedAt: null,
      lastMessageAt: now,
      lastCustomerMessageAt: null,
      lastPreview: '',
      closedAt: null,
      createdAt: now,
      updatedAt: now,
    })
    .execute();
  return { id, ...ref, state: TRANSITIONS.open.to, agentId: null };
}
