import type { ConversationState, Message } from '@kefu/shared';
import type { Selectable } from 'kysely';
import type { AppContext, Unit } from '../../context';
import type { ConversationTable, CustomerTable, MessageTable } from '../../db/schema';
import { LIMITS } from '@kefu/shared';
import { newId } from '../../lib/ids';
import { enqueueJob } from '../messages/outbox-jobs';
import type { ChannelRecord, InboundMessage } from '../channels/types';
import { previewOf, type ConvRef } from './conversation-repo';
import { requeueIdle } from './lifecycle';
import { run } from './inbound-sql';
import { conversationView, messageView } from './views';

export interface IngestResult {
  duplicate: boolean;
  conversationId: string | null;
  /** The conversation's state once the message is in (null: duplicate or not stored). */
  state: ConversationState | null;
}

type CustomerRow = Selectable<CustomerTable>;
type ConversationRow = Selectable<ConversationTable> & { agentName: string | null };

/** The customer, with the reply window this push opens, in one upsert. */
async function upsertCustomer(
  ctx: AppContext,
  u: Unit,
  channel: ChannelRecord,
  msg: InboundMessage,
  now: number,
): Promise<CustomerRow> {
  const enter = msg.type === 'enter_session';
  const { rows } = await run<CustomerRow>(
    u.tx,
    ctx.dialect,
    enter ? 'customerOnEnter' : 'customerOnMessage',
    [
      newId(),
      channel.workspaceId,
      channel.id,
      msg.openid,
      `访客 ${msg.openid.slice(-4).toUpperCase()}`,
      now + (enter ? LIMITS.windowEnterMs : LIMITS.windowMessageMs),
      enter ? LIMITS.windowEnterQuota : LIMITS.windowMessageQuota,
      now,
      now,
    ],
  );
  return rows[0]!;
}

/** Finds the customer's open conversation, or opens one in the queue; re-queues an idle one. */
async function openConversation(
  ctx: AppContext,
  u: Unit,
  channel: ChannelRecord,
  customerId: string,
  now: number,
): Promise<{ conv: ConvRef; fresh: boolean; requeued: boolean }> {
  const ref = (id: string): ConvRef => ({
    id,
    workspaceId: channel.workspaceId,
    channelId: channel.id,
    customerId,
  });
  const { rows } = await run<{ id: string; state: ConversationState; agentId: string | null }>(
    u.tx,
    ctx.dialect,
    'openConversation',
    [customerId],
  );
  const open = rows[0];
  if (open?.state === 'idle') {
    // Back to the queue (the lifecycle's requeue, with its `requeued` line), the agent who had
    // it preferred. The customer upsert above holds the customer's lock, so it cannot be lost.
    const conv = { ...ref(open.id), state: open.state, agentId: open.agentId };
    const requeued = await requeueIdle(u, conv, now);
    return { conv: ref(open.id), fresh: false, requeued };
  }
  if (open) return { conv: ref(open.id), fresh: false, requeued: false };
  const previous = await run<{ agentId: string | null }>(u.tx, ctx.dialect, 'previousAgent', [
    customerId,
  ]);
  const id = newId();
  await run(u.tx, ctx.dialect, 'insertConversation', [
    id,
    channel.workspaceId,
    channel.id,
    customerId,
    previous.rows[0]?.agentId ?? null,
    now,
    now,
    now,
    now,
  ]);
  return { conv: ref(id), fresh: true, requeued: false };
}

/** Appends the push's message (or the entry's context line) and emits message.created. */
async function appendInbound(
  ctx: AppContext,
  u: Unit,
  conv: ConvRef,
  msg: InboundMessage,
  now: number,
): Promise<{ conversation: ConversationRow; message: Message; mediaToFetch: boolean }> {
  const enter = msg.type === 'enter_session';
  const { kind, body } = enter
    ? {
        kind: 'event' as const,
        body: { event: 'entered', params: { sessionFrom: msg.sessionFrom ?? '' } },
      }
    : bodyOf(msg);
  const touched = enter
    ? await run<ConversationRow>(u.tx, ctx.dialect, 'touchForEnter', [
        msg.sessionFrom ?? '',
        now,
        conv.id,
      ])
    : await run<ConversationRow>(u.tx, ctx.dialect, 'touchForMessage', [
        now,
        previewOf(kind, body),
        now,
        now,
        conv.id,
      ]);
  const conversation = touched.rows[0]!;
  const row: Selectable<MessageTable> = {
    id: newId(),
    workspaceId: conv.workspaceId,
    channelId: conv.channelId,
    conversationId: conv.id,
    customerId: conv.customerId,
    seq: Number(conversation.nextSeq) - 1,
    direction: enter ? 'internal' : 'in',
    sender: enter ? 'system' : 'customer',
    agentId: null,
    kind,
    body: JSON.stringify(body),
    mediaId: null,
    platformMsgId: enter ? null : msg.platformMsgId,
    clientId: null,
    delivery: null,
    errorCode: null,
    errorReason: null,
    createdAt: now,
    sentAt: null,
  };
  await run(u.tx, ctx.dialect, 'insertMessage', [
    row.id,
    row.workspaceId,
    row.channelId,
    row.conversationId,
    row.customerId,
    row.seq,
    row.direction,
    row.sender,
    row.kind,
    row.body,
    row.platformMsgId,
    row.createdAt,
  ]);
  const message = messageView(row);
  await u.emit(
    conv.workspaceId,
    { channelId: conv.channelId },
    {
      name: 'message.created',
      data: { message },
    },
  );
  return { conversation, message, mediaToFetch: Boolean(body.params?.platformMediaId) };
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
 * Stores one pushed message inside the caller's transaction: dedupe, customer and reply window,
 * conversation, message, and a job to re-host its media. Common case: five statements.
 * The push may be answered only after the transaction commits (see ingest-writer.ts).
 */
export async function ingestInTransaction(
  ctx: AppContext,
  u: Unit,
  channel: ChannelRecord,
  msg: InboundMessage,
  now: number,
): Promise<IngestResult> {
  const key = await run(u.tx, ctx.dialect, 'dedupe', [channel.id, msg.dedupeKey, now]);
  if (key.affected === 0) return { duplicate: true, conversationId: null, state: null };
  if (msg.type === 'unsupported') return { duplicate: false, conversationId: null, state: null };

  const customer = await upsertCustomer(ctx, u, channel, msg, now);
  const { conv, fresh, requeued } = await openConversation(ctx, u, channel, customer.id, now);
  const { conversation, message, mediaToFetch } = await appendInbound(ctx, u, conv, msg, now);
  if (mediaToFetch) {
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
  const name = fresh || requeued ? 'conversation.queued' : 'conversation.updated';
  await u.emit(
    channel.workspaceId,
    { channelId: channel.id },
    {
      name,
      data: { conversation: conversationView(conversation, customer, now) },
    },
  );
  if (fresh || requeued) u.after(() => ctx.kicks.assignment(channel.workspaceId, channel.id));
  return { duplicate: false, conversationId: conv.id, state: conversation.state };
}
