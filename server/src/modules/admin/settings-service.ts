import type { QuickReply } from '@kefu/shared';
import type { AppContext } from '../../context';
import { AppError } from '../../errors';
import { newId } from '../../lib/ids';

export async function listQuickReplies(
  ctx: AppContext,
  workspaceId: string,
): Promise<QuickReply[]> {
  return ctx.db
    .selectFrom('quickReplies')
    .select(['id', 'shortcut', 'text'])
    .where('workspaceId', '=', workspaceId)
    .orderBy('shortcut')
    .execute();
}

export async function createQuickReply(
  ctx: AppContext,
  workspaceId: string,
  input: { shortcut: string; text: string },
): Promise<QuickReply> {
  const id = newId();
  await ctx.db
    .insertInto('quickReplies')
    .values({ id, workspaceId, ...input, createdAt: ctx.now() })
    .execute();
  return { id, ...input };
}

export async function deleteQuickReply(
  ctx: AppContext,
  workspaceId: string,
  id: string,
): Promise<void> {
  const res = await ctx.db
    .deleteFrom('quickReplies')
    .where('id', '=', id)
    .where('workspaceId', '=', workspaceId)
    .executeTakeFirst();
  if (Number(res.numDeletedRows) === 0) throw new AppError('NOT_FOUND', 'No such quick reply');
}

export async function getSettings(
  ctx: AppContext,
  workspaceId: string,
): Promise<{ sensitiveWords: string[] }> {
  const ws = await ctx.db
    .selectFrom('workspaces')
    .select('sensitiveWords')
    .where('id', '=', workspaceId)
    .executeTakeFirstOrThrow();
  return { sensitiveWords: JSON.parse(ws.sensitiveWords) as string[] };
}

export async function putSettings(
  ctx: AppContext,
  workspaceId: string,
  input: { sensitiveWords: string[] },
): Promise<{ sensitiveWords: string[] }> {
  const words = [...new Set(input.sensitiveWords.map((w) => w.trim()).filter(Boolean))];
  await ctx.db
    .updateTable('workspaces')
    .set({ sensitiveWords: JSON.stringify(words) })
    .where('id', '=', workspaceId)
    .execute();
  return { sensitiveWords: words };
}
