import type { AppContext } from '../../context';
import { idleConversations } from './conversation-service';
import { tryTransition } from './lifecycle';

/**
 * Time-driven transitions: active conversations with no message for the channel's idle minutes
 * become idle (需重新接入); open conversations whose reply window ran out with nothing pending
 * close (an entry-only one not before the channel's idle minutes). Returns how many changed.
 */
export async function sweepConversations(ctx: AppContext): Promise<number> {
  const now = ctx.now();
  const channels = await ctx.db
    .selectFrom('channels')
    .select(['id', 'workspaceId', 'idleMinutes'])
    .where('deletedAt', 'is', null)
    .execute();
  let changed = 0;
  for (const ch of channels) {
    const cutoff = now - ch.idleMinutes * 60_000;
    const stale = await ctx.db
      .selectFrom('conversations')
      .select(['id', 'workspaceId', 'channelId', 'customerId', 'state', 'agentId'])
      .where('channelId', '=', ch.id)
      .where('state', '=', 'active')
      .where('lastMessageAt', '<', cutoff)
      .execute();
    if (stale.length > 0) {
      // A message that lands between this read and the update keeps its conversation active.
      changed += await ctx.transact((u) => idleConversations(u, ctx, stale, 'inactive', cutoff));
    }
  }
  const expired = await ctx.db
    .selectFrom('conversations as c')
    .innerJoin('customers as cu', 'cu.id', 'c.customerId')
    .innerJoin('channels as ch', 'ch.id', 'c.channelId')
    .select(['c.id', 'c.workspaceId', 'c.channelId', 'c.customerId', 'c.state', 'c.agentId'])
    .where('c.state', 'in', ['queued', 'active', 'idle', 'handed_back'])
    .where('cu.windowExpiresAt', '<', now)
    // Entry only (the customer tapped the contact button but has not written yet): its 1-minute
    // window running out must not end it, or a slow typist's first message would open a new
    // conversation without the entry's SessionFrom. It waits as long as the idle rule allows.
    .where((eb) =>
      eb.or([
        eb('c.lastCustomerMessageAt', 'is not', null),
        eb(eb('c.createdAt', '+', eb('ch.idleMinutes', '*', 60_000)), '<', now),
      ]),
    )
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('outbox')
            .innerJoin('messages as m', 'm.id', 'outbox.messageId')
            .select('outbox.id')
            .whereRef('m.conversationId', '=', 'c.id'),
        ),
      ),
    )
    .limit(500)
    .execute();
  for (const conv of expired) {
    const closed = await ctx.transact((u) =>
      // Re-checked under the customer's lock: a message that renewed the window keeps it open.
      tryTransition(ctx, u, {
        action: 'close',
        conv,
        now,
        windowExpiredAt: now,
        line: { reason: 'window_expired' },
      }),
    );
    if (closed) changed++;
  }
  return changed;
}
