import type { QuickReply } from '@kefu/shared';
import type { AppContext } from '../../context';
import { AppError } from '../../errors';
import { newId } from '../../lib/ids';
import type { PresenceRule } from '../../db/schema';

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

/** The workspace's settings: sensitive words and the presence rule. */
export interface WorkspaceSettings {
  sensitiveWords: string[];
  presenceRule: PresenceRule;
}

/** Reads the workspace's settings. */
export async function getSettings(
  ctx: AppContext,
  workspaceId: string,
): Promise<WorkspaceSettings> {
  const ws = await ctx.db
    .selectFrom('workspaces')
    .select(['sensitiveWords', 'presenceRule'])
    .where('id', '=', workspaceId)
    .executeTakeFirstOrThrow();
  return {
    sensitiveWords: JSON.parse(ws.sensitiveWords) as string[],
    presenceRule: ws.presenceRule,
  };
}

/** Changes the fields given (the word list is replaced whole); the others stay as they are. */
export async function putSettings(
  ctx: AppContext,
  workspaceId: string,
  input: { sensitiveWords?: string[] | undefined; presenceRule?: PresenceRule | undefined },
): Promise<WorkspaceSettings> {
  const set: { sensitiveWords?: string; presenceRule?: PresenceRule } = {};
  if (input.sensitiveWords) {
    const words = [...new Set(input.sensitiveWords.map((w) => w.trim()).filter(Boolean))];
    set.sensitiveWords = JSON.stringify(words);
  }
  if (input.presenceRule) set.presenceRule = input.presenceRule;
  if (Object.keys(set).length > 0)
    await ctx.db.updateTable('workspaces').set(set).where('id', '=', workspaceId).execute();
  return getSettings(ctx, workspaceId);
}
