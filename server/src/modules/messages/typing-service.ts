import type { AppContext } from '../../context';
import { AppError } from '../../errors';
import type { Caller } from '../agents/auth';
import { loadChannel } from '../channels/channel-store';
import { adapterFor } from '../channels/registry';

/** WeChat shows "typing" only within 30 s of the last exchange, and each one lasts 15 s. */
export const TYPING_EXCHANGE_MS = 30_000;
export const TYPING_TTL_MS = 15_000;

/**
 * Whether a typing indicator may be sent now: there was an exchange in the last 30 s and no
 * indicator is still showing (the platform refuses a second one within 15 s).
 */
export function typingAllowed(
  lastExchangeAt: number,
  lastTypingAt: number | undefined,
  now: number,
): boolean {
  if (now - lastExchangeAt > TYPING_EXCHANGE_MS) return false;
  return (
    lastTypingAt === undefined ||
    now - lastTypingAt >= TYPING_TTL_MS ||
    lastTypingAt < lastExchangeAt
  );
}

const lastTyping = new Map<string, number>();

/** Shows "typing" to the customer when the rules allow; a courtesy, never an error for the agent. */
export async function sendTyping(
  ctx: AppContext,
  caller: Caller,
  conversationId: string,
): Promise<{ sent: boolean }> {
  const conv = await ctx.db
    .selectFrom('conversations')
    .innerJoin('customers', 'customers.id', 'conversations.customerId')
    .select([
      'conversations.channelId',
      'conversations.agentId',
      'conversations.state',
      'conversations.lastMessageAt',
      'customers.openid',
    ])
    .where('conversations.id', '=', conversationId)
    .where('conversations.workspaceId', '=', caller.workspaceId)
    .executeTakeFirst();
  if (!conv) throw new AppError('CONV_NOT_FOUND');
  if (conv.state !== 'active' || conv.agentId !== caller.agentId)
    throw new AppError('CONV_NOT_ACTIVE');
  const now = ctx.now();
  if (!typingAllowed(Number(conv.lastMessageAt), lastTyping.get(conversationId), now))
    return { sent: false };
  lastTyping.set(conversationId, now);
  if (lastTyping.size > 10_000) lastTyping.clear();
  const channel = await loadChannel(ctx, conv.channelId);
  try {
    await adapterFor(ctx, channel).typing(channel, conv.openid);
    return { sent: true };
  } catch (err) {
    ctx.log.debug({ err }, 'typing refused by the platform');
    return { sent: false };
  }
}
