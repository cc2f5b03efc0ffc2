import type { Conversation, listConversationsQuery } from '@kefu/shared';
import type { z } from 'zod';
import type { AppContext } from '../../context';
import type { Queryable } from '../../db/index';
import { type Caller, isSupervising } from '../agents/auth';
import { AppError } from '../../errors';
import { loadConversations } from './views';

/**
 * Lists conversations the caller may see: agents see the channels they are bound to;
 * supervisors and admins see the whole workspace. `serving` narrows it to the channels the
 * caller chose to serve (for supervisors too: a channel they are not bound to is not served).
 */
export async function listConversations(
  ctx: AppContext,
  caller: Caller,
  query: z.infer<typeof listConversationsQuery>,
): Promise<Conversation[]> {
  let q = ctx.db
    .selectFrom('conversations as c')
    .select(['c.id'])
    .where('c.workspaceId', '=', caller.workspaceId);
  if (!isSupervising(caller.role)) {
    q = q.where(
      'c.channelId',
      'in',
      ctx.db.selectFrom('channelAgents').select('channelId').where('agentId', '=', caller.agentId),
    );
  }
  if (query.state === 'open')
    q = q.where('c.state', 'in', ['queued', 'active', 'idle', 'handed_back']);
  else if (query.state) q = q.where('c.state', '=', query.state);
  if (query.mine === '1' || query.mine === 'true') q = q.where('c.agentId', '=', caller.agentId);
  if (query.serving === '1' || query.serving === 'true') {
    q = q.where(
      'c.channelId',
      'in',
      ctx.db
        .selectFrom('channelAgents')
        .select('channelId')
        .where('agentId', '=', caller.agentId)
        .where('serving', '=', 1),
    );
  }
  if (query.channelId) q = q.where('c.channelId', '=', query.channelId);
  if (query.customerId) q = q.where('c.customerId', '=', query.customerId);
  if (query.state === 'queued') {
    q = q.orderBy('c.queuedAt').orderBy('c.id');
    if (query.before !== undefined) q = q.where('c.queuedAt', '>', query.before);
  } else {
    q = q.orderBy('c.lastMessageAt', 'desc').orderBy('c.id');
    if (query.before !== undefined) q = q.where('c.lastMessageAt', '<', query.before);
  }
  const ids = (await q.limit(query.limit).execute()).map((r) => r.id);
  return loadConversations(ctx.db, caller.workspaceId, ids, ctx.now());
}

/**
 * Agents read only the channels they are bound to; supervisors and admins read the workspace.
 * An unbound channel's data answers 404, as if it did not exist.
 */
export async function assertCanSee(
  ctx: AppContext,
  caller: Caller,
  channelId: string,
  notFound: 'CONV_NOT_FOUND' | 'NOT_FOUND' | 'MESSAGE_NOT_FOUND',
  db: Queryable = ctx.db,
): Promise<void> {
  if (isSupervising(caller.role)) return;
  const bound = await db
    .selectFrom('channelAgents')
    .select('agentId')
    .where('agentId', '=', caller.agentId)
    .where('channelId', '=', channelId)
    .executeTakeFirst();
  if (!bound) throw new AppError(notFound);
}
