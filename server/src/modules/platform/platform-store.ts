import type { Selectable } from 'kysely';
import type { AppContext } from '../../context';
import type { PlatformTable } from '../../db/schema';
import { AppError } from '../../errors';

/** A platform with its secrets opened. */
export interface PlatformRecord {
  id: string;
  workspaceId: string;
  name: string;
  componentAppId: string;
  shared: boolean;
  apiBase: string;
  secrets: { componentSecret: string; token: string; encodingAesKey: string };
  ticket: string | null;
  ticketAt: number | null;
}

/** The row with its sealed secrets and ticket opened. */
export function toPlatform(
  ctx: Pick<AppContext, 'secrets' | 'config'>,
  row: Selectable<PlatformTable>,
): PlatformRecord {
  return {
    id: row.id,
    workspaceId: row.workspaceId,
    name: row.name,
    componentAppId: row.componentAppId,
    shared: row.shared === 1,
    apiBase: row.apiBase ?? ctx.config.wechatApiBase,
    secrets: ctx.secrets.open(row.secretsEnc),
    ticket: row.ticketEnc ? ctx.secrets.open<string>(row.ticketEnc) : null,
    ticketAt: row.ticketAt,
  };
}

/** Loads a platform by id (any workspace: pushes and callbacks name it) or PLATFORM_NOT_FOUND. */
export async function loadPlatform(ctx: AppContext, id: string): Promise<PlatformRecord> {
  const row = await ctx.db
    .selectFrom('platforms')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw new AppError('PLATFORM_NOT_FOUND');
  return toPlatform(ctx, row);
}

/** The platform if the workspace may use it: its holder, or any workspace when it is shared. */
export async function loadUsablePlatform(
  ctx: AppContext,
  workspaceId: string,
  id: string,
): Promise<PlatformRecord> {
  const p = await loadPlatform(ctx, id);
  if (p.workspaceId !== workspaceId && !p.shared) throw new AppError('PLATFORM_NOT_FOUND');
  return p;
}

/** The platform only if the workspace holds it (configuration), else PLATFORM_NOT_FOUND. */
export async function loadOwnPlatform(
  ctx: AppContext,
  workspaceId: string,
  id: string,
): Promise<PlatformRecord> {
  const p = await loadPlatform(ctx, id);
  if (p.workspaceId !== workspaceId) throw new AppError('PLATFORM_NOT_FOUND');
  return p;
}
