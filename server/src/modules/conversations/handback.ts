/**
 * Hand-back to WeChat's own customer-service tool (protocol §2, `transfer_customer_service`).
 *
 * A customer message is answered with the transfer packet instead of `success` when its
 * conversation is with WeChat's tool (state `handed_back`: an agent chose 移交微信客服, or an
 * earlier message was handed back by policy), or when the channel's policy says so now (always;
 * no agent online; outside business hours). Only genuine customer messages are handed back,
 * never events (§1.8: the tool never sees them). The answer goes out only after the message is
 * committed: Kefu keeps the record either way.
 */
import { isOpenAt, type Conversation, type HandbackPolicy } from '@kefu/shared';
import type { AppContext } from '../../context';
import { AppError } from '../../errors';
import { type Caller, isSupervising } from '../agents/auth';
import type { ChannelRecord, InboundMessage } from '../channels/types';
import { assertBound, lockConversation } from './conversation-service';
import type { IngestResult } from './inbound-service';
import { recordAudit } from '../audit/audit-service';
import { agentName, transition, tryTransition } from './lifecycle';
import { loadConversation } from './views';

const GENUINE = new Set<InboundMessage['type']>(['text', 'image', 'miniprogrampage']);

/** Why the channel's policy hands this message back now, or null when it does not. */
async function policyReason(
  ctx: AppContext,
  channel: ChannelRecord,
  now: number,
): Promise<Exclude<HandbackPolicy, 'never'> | null> {
  const { handbackPolicy: policy, businessHours } = channel.routing;
  if (policy === 'always') return 'always';
  if (policy === 'outside_hours') return isOpenAt(businessHours, now) ? null : 'outside_hours';
  if (policy === 'no_agent_online') {
    const online = await ctx.db
      .selectFrom('channelAgents as ca')
      .innerJoin('agents as a', 'a.id', 'ca.agentId')
      .select('a.id')
      .where('ca.channelId', '=', channel.id)
      .where('ca.serving', '=', 1)
      .where('a.status', '=', 'online')
      .where('a.disabled', '=', 0)
      .limit(1)
      .executeTakeFirst();
    return online ? null : 'no_agent_online';
  }
  return null;
}

async function convRow(ctx: AppContext, channel: ChannelRecord, id: string) {
  return ctx.db
    .selectFrom('conversations')
    .select(['id', 'workspaceId', 'channelId', 'customerId', 'state', 'agentId'])
    .where('id', '=', id)
    .where('channelId', '=', channel.id)
    .executeTakeFirst();
}

/** A retried push (already stored): the customer's open conversation decides its answer. */
async function openConvOf(ctx: AppContext, channel: ChannelRecord, openid: string) {
  return ctx.db
    .selectFrom('conversations as c')
    .innerJoin('customers as cu', 'cu.id', 'c.customerId')
    .select(['c.id'])
    .where('cu.channelId', '=', channel.id)
    .where('cu.openid', '=', openid)
    .where('c.state', 'in', ['queued', 'active', 'idle', 'handed_back'])
    .orderBy('c.createdAt', 'desc')
    .executeTakeFirst();
}

/**
 * Decides the answer to a committed push: true means answer with `transfer_customer_service`.
 * A hand-back by policy moves the conversation to `handed_back` first (one transition, with
 * its context line); a retry of the same push gets the same answer.
 */
export async function decideHandback(
  ctx: AppContext,
  channel: ChannelRecord,
  msg: InboundMessage,
  ingested: IngestResult,
): Promise<boolean> {
  if (!GENUINE.has(msg.type)) return false;
  if (
    !ingested.duplicate &&
    ingested.state !== 'handed_back' &&
    channel.routing.handbackPolicy === 'never'
  )
    return false;
  const id = ingested.conversationId ?? (await openConvOf(ctx, channel, msg.openid))?.id ?? null;
  if (!id) return false;
  const conv = await convRow(ctx, channel, id);
  if (!conv || conv.state === 'closed') return false;
  if (conv.state === 'handed_back') return true;
  const now = ctx.now();
  const reason = await policyReason(ctx, channel, now);
  if (!reason) return false;
  const moved = await ctx.transact(async (u) => {
    const done = await tryTransition(ctx, u, {
      action: 'hand_back',
      conv,
      now,
      line: { by: 'policy', reason },
    });
    if (done) {
      await recordAudit(ctx, u, {
        workspaceId: conv.workspaceId,
        actor: null,
        action: 'conversation.hand_back',
        target: { type: 'conversation', id: conv.id },
        details: { by: 'policy', reason },
      });
    }
    return done;
  });
  if (moved) return true;
  // Lost a race (an agent accepted it this instant, or another retry handed it back).
  return (await convRow(ctx, channel, id))?.state === 'handed_back';
}

/**
 * 移交微信客服: the conversation goes to WeChat's tool; the customer's next message is answered
 * with the hand-back. Its holder, or any bound agent while it waits in the queue, or a
 * supervisor may do it.
 */
export async function handBackConversation(
  ctx: AppContext,
  caller: Caller,
  id: string,
): Promise<Conversation> {
  return ctx.transact(async (u) => {
    const conv = await lockConversation(ctx, u, caller, id);
    const now = ctx.now();
    if (conv.state === 'handed_back') return loadConversation(u.tx, caller.workspaceId, id, now);
    if (conv.state === 'closed') throw new AppError('CONV_CLOSED');
    if (!isSupervising(caller.role)) {
      await assertBound(u, caller.agentId, conv.channelId);
      if (conv.state !== 'queued' && conv.agentId !== caller.agentId)
        throw new AppError('CONV_NOT_YOURS');
    }
    const handed = await transition(ctx, u, {
      action: 'hand_back',
      conv,
      now,
      line: { by: 'agent', agentId: caller.agentId, agentName: await agentName(u, caller.agentId) },
    });
    await recordAudit(ctx, u, {
      workspaceId: caller.workspaceId,
      actor: caller,
      action: 'conversation.hand_back',
      target: { type: 'conversation', id },
      details: { by: 'agent', from: conv.state },
    });
    return handed;
  });
}

/** 收回: back from WeChat's tool into Kefu's queue; pushes are answered `success` again. */
export async function takeBackConversation(
  ctx: AppContext,
  caller: Caller,
  id: string,
): Promise<Conversation> {
  return ctx.transact(async (u) => {
    const conv = await lockConversation(ctx, u, caller, id);
    if (!isSupervising(caller.role)) await assertBound(u, caller.agentId, conv.channelId);
    if (conv.state === 'closed') throw new AppError('CONV_CLOSED');
    if (conv.state !== 'handed_back') throw new AppError('CONV_NOT_HANDED_BACK');
    const back = await transition(ctx, u, {
      action: 'take_back',
      conv,
      now: ctx.now(),
      line: { agentId: caller.agentId, agentName: await agentName(u, caller.agentId) },
    });
    await recordAudit(ctx, u, {
      workspaceId: caller.workspaceId,
      actor: caller,
      action: 'conversation.take_back',
      target: { type: 'conversation', id },
    });
    return back;
  });
}
