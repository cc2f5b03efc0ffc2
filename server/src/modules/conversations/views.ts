import type { Conversation, Customer, Message, ReplyWindow } from '@kefu/shared';
import type { Selectable } from 'kysely';
import type { Queryable } from '../../db/index';
import type { CustomerTable, MessageTable } from '../../db/schema';
import { AppError } from '../../errors';

type WindowColumns = Pick<Selectable<CustomerTable>, 'windowExpiresAt' | 'windowQuota'>;

/** A customer row's reply window, as the window rules take it. */
export function replyWindowOf(c: WindowColumns): { expiresAt: number | null; quotaLeft: number } {
  return {
    expiresAt: c.windowExpiresAt == null ? null : Number(c.windowExpiresAt),
    quotaLeft: c.windowQuota,
  };
}

/** The reply window as the console shows it. */
export function windowView(c: WindowColumns, now: number): ReplyWindow {
  const { expiresAt, quotaLeft } = replyWindowOf(c);
  return { expiresAt, quotaLeft, open: expiresAt != null && expiresAt > now && quotaLeft > 0 };
}

export function customerView(c: Selectable<CustomerTable>, now: number): Customer {
  return {
    id: c.id,
    channelId: c.channelId,
    openid: c.openid,
    nickname: c.nickname,
    window: windowView(c, now),
  };
}

/** Loads conversations with their customer and agent name, in the order of `ids`. */
export async function loadConversations(
  db: Queryable,
  workspaceId: string,
  ids: string[],
  now: number,
): Promise<Conversation[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('conversations as c')
    .innerJoin('customers as cu', 'cu.id', 'c.customerId')
    .leftJoin('agents as a', 'a.id', 'c.agentId')
    .select([
      'c.id',
      'c.channelId',
      'c.state',
      'c.agentId',
      'c.preferredAgentId',
      'c.sessionFrom',
      'c.queuedAt',
      'c.acceptedAt',
      'c.lastMessageAt',
      'c.lastCustomerMessageAt',
      'c.lastPreview',
      'c.closedAt',
      'c.createdAt',
      'a.displayName as agentName',
      'cu.id as cuId',
      'cu.workspaceId as cuWorkspaceId',
      'cu.channelId as cuChannelId',
      'cu.openid',
      'cu.unionid',
      'cu.nickname',
      'cu.windowExpiresAt',
      'cu.windowQuota',
      'cu.lastMessageAt as cuLastMessageAt',
      'cu.createdAt as cuCreatedAt',
    ])
    .where('c.workspaceId', '=', workspaceId)
    .where('c.id', 'in', ids)
    .execute();
  const byId = new Map(
    rows.map((r) => [
      r.id,
      {
        id: r.id,
        channelId: r.channelId,
        customer: customerView(
          {
            id: r.cuId,
            workspaceId: r.cuWorkspaceId,
            channelId: r.cuChannelId,
            openid: r.openid,
            unionid: r.unionid,
            nickname: r.nickname,
            windowExpiresAt: r.windowExpiresAt,
            windowQuota: r.windowQuota,
            lastMessageAt: r.cuLastMessageAt,
            createdAt: r.cuCreatedAt,
          },
          now,
        ),
        state: r.state,
        agentId: r.agentId,
        agentName: r.agentName,
        preferredAgentId: r.preferredAgentId,
        sessionFrom: r.sessionFrom,
        queuedAt: num(r.queuedAt),
        acceptedAt: num(r.acceptedAt),
        lastMessageAt: Number(r.lastMessageAt),
        lastCustomerMessageAt: num(r.lastCustomerMessageAt),
        lastPreview: r.lastPreview,
        closedAt: num(r.closedAt),
        createdAt: Number(r.createdAt),
      } satisfies Conversation,
    ]),
  );
  return ids.flatMap((id) => byId.get(id) ?? []);
}

export async function loadConversation(
  db: Queryable,
  workspaceId: string,
  id: string,
  now: number,
): Promise<Conversation> {
  const [conv] = await loadConversations(db, workspaceId, [id], now);
  if (!conv) throw new AppError('CONV_NOT_FOUND');
  return conv;
}

export function messageView(m: Selectable<MessageTable>): Message {
  return {
    id: m.id,
    conversationId: m.conversationId,
    customerId: m.customerId,
    seq: m.seq,
    direction: m.direction,
    sender: m.sender,
    agentId: m.agentId,
    kind: m.kind as Message['kind'],
    body: JSON.parse(m.body) as Message['body'],
    mediaId: m.mediaId,
    clientId: m.clientId,
    delivery: m.delivery,
    errorCode: m.errorCode,
    errorReason: m.errorReason,
    createdAt: Number(m.createdAt),
    sentAt: num(m.sentAt),
  };
}

function num(v: number | null): number | null {
  return v == null ? null : Number(v);
}
