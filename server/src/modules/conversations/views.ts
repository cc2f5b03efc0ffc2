import type { Conversation, Customer, Message, ReplyWindow } from '@kefu/shared';
import type { Selectable } from 'kysely';
import type { Queryable } from '../../db/index';
import type { ConversationTable, CustomerTable, MessageTable } from '../../db/schema';
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

type ConversationFields = Pick<
  Selectable<ConversationTable>,
  | 'id'
  | 'channelId'
  | 'state'
  | 'agentId'
  | 'preferredAgentId'
  | 'sessionFrom'
  | 'queuedAt'
  | 'acceptedAt'
  | 'lastMessageAt'
  | 'lastCustomerMessageAt'
  | 'lastPreview'
  | 'closedAt'
  | 'handedBackAt'
  | 'createdAt'
> & { agentName: string | null };

/** A conversation as the console and events show it, from its row and its customer's. */
export function conversationView(
  c: ConversationFields,
  customer: Selectable<CustomerTable>,
  now: number,
): Conversation {
  return {
    id: c.id,
    channelId: c.channelId,
    customer: customerView(customer, now),
    state: c.state,
    agentId: c.agentId,
    agentName: c.agentName,
    preferredAgentId: c.preferredAgentId,
    sessionFrom: c.sessionFrom,
    queuedAt: num(c.queuedAt),
    acceptedAt: num(c.acceptedAt),
    lastMessageAt: Number(c.lastMessageAt),
    lastCustomerMessageAt: num(c.lastCustomerMessageAt),
    lastPreview: c.lastPreview,
    closedAt: num(c.closedAt),
    handedBackAt: num(c.handedBackAt),
    createdAt: Number(c.createdAt),
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
      'c.handedBackAt',
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
        ...conversationView(
          r,
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
      },
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
