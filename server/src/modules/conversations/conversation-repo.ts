import type { Message } from '@kefu/shared';
import type { Insertable } from 'kysely';
import type { Unit } from '../../context';
import type { MessageTable } from '../../db/schema';
import { newId } from '../../lib/ids';
import { messageView } from './views';

type NewMessage = Omit<
  Insertable<MessageTable>,
  'id' | 'seq' | 'workspaceId' | 'channelId' | 'conversationId' | 'customerId'
>;

export interface ConvRef {
  id: string;
  workspaceId: string;
  channelId: string;
  customerId: string;
}

/** Short text for lists: what the last message said. */
export function previewOf(kind: string, body: Message['body']): string {
  switch (kind) {
    case 'text':
      return (body.text ?? '').slice(0, 80);
    case 'image':
      return '[图片]';
    case 'miniprogrampage':
      return `[小程序卡片] ${body.card?.title ?? ''}`.trim();
    case 'link':
      return `[链接] ${body.link?.title ?? ''}`.trim();
    default:
      return '';
  }
}

/**
 * Appends a message to a conversation: takes the next per-conversation seq, inserts, updates
 * the conversation's last-message fields, and emits `message.created` to the channel.
 */
export async function appendMessage(
  u: Unit,
  conv: ConvRef,
  msg: NewMessage,
  now: number,
): Promise<Message> {
  const { nextSeq } = await u.tx
    .updateTable('conversations')
    .set((eb) => ({ nextSeq: eb('nextSeq', '+', 1) }))
    .where('id', '=', conv.id)
    .returning('nextSeq')
    .executeTakeFirstOrThrow();
  const seq = Number(nextSeq) - 1;
  const row = {
    id: newId(),
    workspaceId: conv.workspaceId,
    channelId: conv.channelId,
    conversationId: conv.id,
    customerId: conv.customerId,
    seq,
    agentId: null,
    mediaId: null,
    platformMsgId: null,
    clientId: null,
    delivery: null,
    errorCode: null,
    errorReason: null,
    sentAt: null,
    ...msg,
  };
  await u.tx.insertInto('messages').values(row).execute();
  const body = JSON.parse(row.body) as Message['body'];
  if (row.kind !== 'event') {
    await u.tx
      .updateTable('conversations')
      .set({
        lastMessageAt: now,
        lastPreview: previewOf(row.kind, body),
        updatedAt: now,
        ...(row.sender === 'customer' ? { lastCustomerMessageAt: now } : {}),
      })
      .where('id', '=', conv.id)
      .execute();
  }
  const message = messageView({ ...row, createdAt: Number(row.createdAt) });
  await u.emit(
    conv.workspaceId,
    { channelId: conv.channelId },
    { name: 'message.created', data: { message } },
  );
  return message;
}

/** A context line (accepted by X, transferred, idle…): shown to agents, never sent. */
export function contextLine(
  u: Unit,
  conv: ConvRef,
  event: string,
  params: Record<string, string>,
  now: number,
): Promise<Message> {
  return appendMessage(
    u,
    conv,
    {
      direction: 'internal',
      sender: 'system',
      kind: 'event',
      body: JSON.stringify({ event, params }),
      createdAt: now,
    },
    now,
  );
}
