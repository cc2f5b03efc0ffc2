import type { Message } from '@kefu/shared';
import type { AppContext, Unit } from '../../context';
import { newId } from '../../lib/ids';
import { enqueueJob } from '../messages/outbox-jobs';
import type { ChannelRecord, InboundMessage } from '../channels/types';
import { onCustomerMessage, onEnterSession } from '../channels/wechat/reply-window';
import { appendMessage, contextLine, type ConvRef } from './conversation-repo';
import { loadConversation, replyWindowOf } from './views';

export interface IngestResult {
  duplicate: boolean;
  conversationId: string | null;
}

async function upsertCustomer(u: Unit, channel: ChannelRecord, openid: string, now: number) {
  await u.tx
    .insertInto('customers')
    .values({
      id: newId(),
      workspaceId: channel.workspaceId,
      channelId: channel.id,
      openid,
      unionid: null,
      nickname: `访客 ${openid.slice(-4).toUpperCase()}`,
      windowExpiresAt: null,
      windowQuota: 0,
      lastMessageAt: null,
      createdAt: now,
    })
    .onConflict((oc) => oc.columns(['channelId', 'openid']).doNothing())
    .execute();
  return u.tx
    .selectFrom('customers')
    .selectAll()
    .where('channelId', '=', channel.id)
    .where('openid', '=', openid)
    .executeTakeFirstOrThrow();
}

/** Finds the customer's open conversation, or opens one in the queue; re-queues an idle one. */
async function openConversation(
  u: Unit,
  channel: ChannelRecord,
  customerId: string,
  now: number,
): Promise<{ conv: ConvRef; fresh: boolean; requeued: boolean }> {
  const open = await u.tx
    .selectFrom('conversations')
    .select(['id', 'state', 'agentId'])
    .where('customerId', '=', customerId)
    .where('state', 'in', ['queued', 'active', 'idle'])
    .orderBy('createdAt', 'desc')
    .executeTakeFirst();
  const ref = (id: string): ConvRef => ({
    id,
    workspaceId: channel.workspaceId,
    channelId: channel.id,
    customerId,
  });
  if (open?.state === 'idle') {
    // Back to the queue, but the agent who had it is preferred (sticky) when auto-assigning.
    await u.tx
      .updateTable('conversations')
      .set({
        state: 'queued',
        queuedAt: now,
        preferredAgentId: open.agentId,
        agentId: null,
        updatedAt: now,
      })
      .where('id', '=', open.id)
      .execute();
    return { conv: ref(open.id), fresh: false, requeued: true };
  }
  if (open) return { conv: ref(open.id), fresh: false, requeued: false };
  const previous = await u.tx
    .selectFrom('conversations')
    .select('agentId')
    .where('customerId', '=', customerId)
    .orderBy('createdAt', 'desc')
    .executeTakeFirst();
  const id = newId();
  await u.tx
    .insertInto('conversations')
    .values({
      id,
      workspaceId: channel.workspaceId,
      channelId: channel.id,
      customerId,
      state: 'queued',
      agentId: null,
      preferredAgentId: previous?.agentId ?? null,
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
  return { conv: ref(id), fresh: true, requeued: false };
}

function bodyOf(msg: InboundMessage): { kind: Message['kind']; body: Message['body'] } {
  switch (msg.type) {
    case 'text':
      return { kind: 'text', body: { text: msg.text ?? '' } };
    case 'image':
      return {
        kind: 'image',
        body: { params: { platformMediaId: msg.mediaId ?? '', picUrl: msg.picUrl ?? '' } },
      };
    case 'miniprogrampage':
      return {
        kind: 'miniprogrampage',
        body: {
          card: {
            title: msg.card?.title ?? '',
            pagePath: msg.card?.pagePath ?? '',
            appId: msg.card?.appId ?? '',
            thumbMediaId: null,
          },
          params: {
            platformMediaId: msg.card?.thumbMediaId ?? '',
            picUrl: msg.card?.thumbUrl ?? '',
          },
        },
      };
    default:
      return { kind: 'event', body: {} };
  }
}

/**
 * Commits one pushed message: dedupe, customer, reply window, conversation, message, and a job to
 * re-host its media, all in one transaction. Only after this returns may the push be answered.
 */
export async function ingestInbound(
  ctx: AppContext,
  channel: ChannelRecord,
  msg: InboundMessage,
): Promise<IngestResult> {
  const result = await ctx.transact(async (u): Promise<IngestResult> => {
    const now = ctx.now();
    const key = await u.tx
      .insertInto('inboundKeys')
      .values({ channelId: channel.id, dedupeKey: msg.dedupeKey, createdAt: now })
      .onConflict((oc) => oc.columns(['channelId', 'dedupeKey']).doNothing())
      .executeTakeFirst();
    if (Number(key.numInsertedOrUpdatedRows ?? 0) === 0)
      return { duplicate: true, conversationId: null };
    if (msg.type === 'unsupported') return { duplicate: false, conversationId: null };

    const customer = await upsertCustomer(u, channel, msg.openid, now);
    const current = replyWindowOf(customer);
    const window =
      msg.type === 'enter_session' ? onEnterSession(current, now) : onCustomerMessage(current, now);
    await u.tx
      .updateTable('customers')
      .set({ windowExpiresAt: window.expiresAt, windowQuota: window.quotaLeft, lastMessageAt: now })
      .where('id', '=', customer.id)
      .execute();

    const { conv, fresh, requeued } = await openConversation(u, channel, customer.id, now);
    if (requeued) await contextLine(u, conv, 'requeued', {}, now);
    if (msg.type === 'enter_session') {
      await u.tx
        .updateTable('conversations')
        .set({ sessionFrom: msg.sessionFrom ?? '', updatedAt: now })
        .where('id', '=', conv.id)
        .execute();
      await contextLine(u, conv, 'entered', { sessionFrom: msg.sessionFrom ?? '' }, now);
    } else {
      const { kind, body } = bodyOf(msg);
      const message = await appendMessage(
        u,
        conv,
        {
          direction: 'in',
          sender: 'customer',
          kind,
          body: JSON.stringify(body),
          platformMsgId: msg.platformMsgId,
          createdAt: now,
        },
        now,
      );
      if (body.params?.platformMediaId) {
        await enqueueJob(
          u,
          {
            workspaceId: channel.workspaceId,
            messageId: message.id,
            channelId: channel.id,
            job: 'fetch_media',
            customerId: null,
          },
          now,
        );
        u.after(() => ctx.kicks.outbox());
      }
    }
    const conversation = await loadConversation(u.tx, channel.workspaceId, conv.id, now);
    const name = fresh || requeued ? 'conversation.queued' : 'conversation.updated';
    await u.emit(channel.workspaceId, { channelId: channel.id }, { name, data: { conversation } });
    if (fresh || requeued) u.after(() => ctx.kicks.assignment(channel.workspaceId, channel.id));
    return { duplicate: false, conversationId: conv.id };
  });
  return result;
}
