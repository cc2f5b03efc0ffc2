import type { AppContext } from '../../context';
import { idleConversations } from './conversation-service';
import { contextLine } from './conversation-repo';
import { loadConversation } from './views';

/**
 * Time-driven transitions: active conversations with no message for the channel's idle minutes
 * become idle (需重新接入); open conversations whose reply window ran out with nothing pending
 * close. Returns how many changed.
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
    const stale = await ctx.db
      .selectFrom('conversations')
      .select(['id', 'workspaceId', 'channelId', 'customerId'])
      .where('channelId', '=', ch.id)
      .where('state', '=', 'active')
      .where('lastMessageAt', '<', now - ch.idleMinutes * 60_000)
      .execute();
    if (stale.length > 0) {
      await ctx.transact((u) => idleConversations(u, ctx, ch.workspaceId, stale, 'inactive'));
      changed += stale.length;
      ctx.kicks.assignment(ch.workspaceId, ch.id);
    }
  }
  const expired = await ctx.db
    .selectFrom('conversations as c')
    .innerJoin('customers as cu', 'cu.id', 'c.customerId')
    .select(['c.id', 'c.workspaceId', 'c.channelId', 'c.customerId'])
    .where('c.state', 'in', ['queued', 'active', 'idle'])
    .where('cu.windowExpiresAt', '<', now)
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
    await ctx.transact(async (u) => {
      const res = await u.tx
        .updateTable('conversations')
        .set({ state: 'closed', closedAt: now, updatedAt: now })
        .where('id', '=', conv.id)
        .where('state', 'in', ['queued', 'active', 'idle'])
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return;
      await contextLine(u, conv, 'closed', { reason: 'window_expired' }, now);
      const conversation = await loadConversation(u.tx, conv.workspaceId, conv.id, now);
      await u.emit(
        conv.workspaceId,
        { channelId: conv.channelId },
        { name: 'conversation.closed', data: { conversation } },
      );
    });
    changed++;
  }
  return changed;
}
