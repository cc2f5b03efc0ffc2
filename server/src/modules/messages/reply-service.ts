import type { Message, SendMessageBody } from '@kefu/shared';
import type { AppContext, Unit } from '../../context';
import { AppError } from '../../errors';
import { isSupervising, type Caller } from '../agents/auth';
import { assertMediaReadable } from './media-service';
import { checkOutgoingContent } from './content-check';
import { enqueueJob, reserveReply } from './outbox-jobs';
import { assertCanSee } from '../conversations/conversation-queries';
import { conversationStorage } from '../conversations/storage';
import { appendMessage } from '../conversations/conversation-repo';
import { loadConversation, messageView } from '../conversations/views';

/** Per-agent send rate limit, cluster-wide with Redis: a burst of 20 within 10 s. */
async function checkSendRate(ctx: AppContext, agentId: string): Promise<void> {
  const limit = { key: `send:${agentId}`, limit: 20, windowMs: 10_000 };
  const { allowed, retryAfterMs } = await ctx.rateLimiter.hit([limit], ctx.now());
  if (!allowed) throw new AppError('MESSAGE_RATE_LIMITED', undefined, { retryAfterMs });
}

async function existingByClientId(
  ctx: AppContext,
  caller: Caller,
  clientId: string,
): Promise<Message | null> {
  const row = await ctx.db
    .selectFrom('messages')
    .selectAll()
    .where('agentId', '=', caller.agentId)
    .where('clientId', '=', clientId)
    .executeTakeFirst();
  return row ? messageView(row) : null;
}

function findSensitive(text: string, words: string[]): string | null {
  const lower = text.toLowerCase();
  return words.find((w) => w && lower.includes(w.toLowerCase())) ?? null;
}

function bodyFor(input: SendMessageBody): { body: Message['body']; mediaId: string | null } {
  switch (input.kind) {
    case 'text':
      return { body: { text: input.text }, mediaId: null };
    case 'image':
      return { body: {}, mediaId: input.mediaId };
    case 'miniprogrampage':
      return { body: { card: input.card }, mediaId: input.card.thumbMediaId ?? null };
    case 'link':
      return { body: { link: input.link }, mediaId: null };
  }
}

/**
 * Accepts an agent's reply: checks the conversation, the words, the reply window and quota, then
 * writes the message (pending) and its outbox row in one transaction. The worker sends it.
 * The same clientId twice returns the first message and sends once.
 */
/**
 * A conversation's state and holder, read after taking its customer's lock: every lifecycle
 * transition takes that lock first (customer → conversation), so a close or idle committed
 * just before cannot be missed, and the two can never wait for each other in a cycle.
 */
async function lockedState(ctx: AppContext, u: Unit, conversationId: string, customerId: string) {
  await conversationStorage(ctx.dialect).lockCustomers(u.tx, [customerId]);
  return u.tx
    .selectFrom('conversations')
    .select(['state', 'agentId'])
    .where('id', '=', conversationId)
    .executeTakeFirstOrThrow();
}

export async function sendReply(
  ctx: AppContext,
  caller: Caller,
  conversationId: string,
  input: SendMessageBody,
): Promise<Message> {
  const existing = await existingByClientId(ctx, caller, input.clientId);
  if (existing) return existing;
  const ws = await ctx.db
    .selectFrom('workspaces')
    .select('sensitiveWords')
    .where('id', '=', caller.workspaceId)
    .executeTakeFirstOrThrow();
  const texts = [
    input.kind === 'text' ? input.text : '',
    input.kind === 'miniprogrampage' ? input.card.title : '',
    input.kind === 'link' ? input.link.title + input.link.description : '',
  ];
  const hit = findSensitive(texts.join('\n'), JSON.parse(ws.sensitiveWords) as string[]);
  if (hit) throw new AppError('MESSAGE_SENSITIVE_WORD', undefined, { word: hit });
  const { body, mediaId } = bodyFor(input);
  // Only an image the agent may read can be sent: sending one would make it theirs to read.
  if (mediaId) await assertMediaReadable(ctx, caller, mediaId);
  await checkSendRate(ctx, caller.agentId);
  await checkOutgoingContent(ctx, caller, conversationId, input);
  try {
    return await ctx.transact(async (u) => {
      const conv = await u.tx
        .selectFrom('conversations')
        .selectAll()
        .where('id', '=', conversationId)
        .where('workspaceId', '=', caller.workspaceId)
        .executeTakeFirst();
      if (!conv) throw new AppError('CONV_NOT_FOUND');
      const { state, agentId } = await lockedState(ctx, u, conv.id, conv.customerId);
      if (state === 'closed') throw new AppError('CONV_CLOSED');
      if (agentId !== caller.agentId)
        throw new AppError(state === 'queued' ? 'CONV_NOT_ACTIVE' : 'CONV_NOT_YOURS');
      if (state !== 'active') throw new AppError('CONV_NOT_ACTIVE');
      const now = ctx.now();
      await reserveReply(u, conv.customerId, now);
      const message = await appendMessage(
        u,
        conv,
        {
          direction: 'out',
          sender: 'agent',
          agentId: caller.agentId,
          kind: input.kind,
          body: JSON.stringify(body),
          mediaId,
          clientId: input.clientId,
          delivery: 'pending',
          createdAt: now,
        },
        now,
      );
      // The conversation's preview, time and the customer's quota changed: one snapshot for all.
      const conversation = await loadConversation(u.tx, caller.workspaceId, conv.id, now);
      await u.emit(
        caller.workspaceId,
        { channelId: conv.channelId },
        { name: 'conversation.updated', data: { conversation } },
      );
      await enqueueJob(
        u,
        {
          workspaceId: caller.workspaceId,
          messageId: message.id,
          channelId: conv.channelId,
          job: 'send',
          customerId: conv.customerId,
        },
        now,
      );
      u.after(() => ctx.kicks.outbox());
      return message;
    });
  } catch (err) {
    // Two identical posts racing: the unique (agent_id, client_id) lets one in; return it.
    const again = await existingByClientId(ctx, caller, input.clientId);
    if (again) return again;
    throw err;
  }
}

/**
 * Puts a failed message back in the outbox under the rules of sending: the caller sees the
 * channel (else 404, as if the message did not exist), the conversation is active and theirs
 * (supervisors may retry in anyone's), the rate limit holds, and the window and quota are
 * checked again.
 */
export async function retryMessage(
  ctx: AppContext,
  caller: Caller,
  messageId: string,
): Promise<Message> {
  await checkSendRate(ctx, caller.agentId);
  return ctx.transact(async (u) => {
    const msg = await u.tx
      .selectFrom('messages')
      .selectAll()
      .where('id', '=', messageId)
      .where('workspaceId', '=', caller.workspaceId)
      .executeTakeFirst();
    if (!msg) throw new AppError('MESSAGE_NOT_FOUND');
    // Inside the transaction: on SQLite its one connection is held, so ctx.db would wait on it.
    await assertCanSee(ctx, caller, msg.channelId, 'MESSAGE_NOT_FOUND', u.tx);
    const supervising = isSupervising(caller.role);
    if (msg.delivery !== 'failed') throw new AppError('MESSAGE_NOT_FAILED');
    const conv = await lockedState(ctx, u, msg.conversationId, msg.customerId);
    if (conv.state === 'closed') throw new AppError('CONV_CLOSED');
    if (conv.agentId !== caller.agentId && !supervising)
      throw new AppError(conv.state === 'queued' ? 'CONV_NOT_ACTIVE' : 'CONV_NOT_YOURS');
    if (conv.state !== 'active') throw new AppError('CONV_NOT_ACTIVE');
    const now = ctx.now();
    await reserveReply(u, msg.customerId, now);
    await u.tx
      .updateTable('messages')
      .set({ delivery: 'pending', errorCode: null, errorReason: null })
      .where('id', '=', msg.id)
      .execute();
    await enqueueJob(
      u,
      {
        workspaceId: msg.workspaceId,
        messageId: msg.id,
        channelId: msg.channelId,
        job: 'send',
        customerId: msg.customerId,
      },
      now,
    );
    const message = messageView({
      ...msg,
      delivery: 'pending',
      errorCode: null,
      errorReason: null,
    });
    await u.emit(
      msg.workspaceId,
      { channelId: msg.channelId },
      { name: 'message.updated', data: { message } },
    );
    const conversation = await loadConversation(u.tx, msg.workspaceId, msg.conversationId, now);
    await u.emit(
      msg.workspaceId,
      { channelId: msg.channelId },
      { name: 'conversation.updated', data: { conversation } },
    );
    u.after(() => ctx.kicks.outbox());
    return message;
  });
}
