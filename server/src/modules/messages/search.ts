import type { Message } from '@kefu/shared';
import { sql } from 'kysely';
import type { AppContext } from '../../context';
import { isSupervising, type Caller } from '../agents/auth';
import { messageView } from '../conversations/views';

/** `%` and `_` in the query are literal characters, not wildcards. */
function likePattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * Full history search over text messages (what WeChat's own tool cannot do): newest first,
 * scoped to the caller's workspace and, for agents, to the channels they are bound to.
 */
export async function searchMessages(
  ctx: AppContext,
  caller: Caller,
  q: string,
  limit: number,
  before?: number,
): Promise<Message[]> {
  const op = ctx.dialect === 'postgres' ? sql`ilike` : sql`like`;
  let query = ctx.db
    .selectFrom('messages')
    .selectAll()
    .where('workspaceId', '=', caller.workspaceId)
    .where('kind', '=', 'text')
    .where(sql<boolean>`body ${op} ${likePattern(q)} escape '\\'`);
  if (!isSupervising(caller.role)) {
    query = query.where(
      'channelId',
      'in',
      ctx.db.selectFrom('channelAgents').select('channelId').where('agentId', '=', caller.agentId),
    );
  }
  if (before !== undefined) query = query.where('createdAt', '<', before);
  const rows = await query.orderBy('createdAt', 'desc').limit(limit).execute();
  return rows.map(messageView);
}
