import type { Selectable } from 'kysely';
import type { AppContext } from '../../context';
import type { Queryable, Tx } from '../../db/index';
import type { ChannelTable } from '../../db/schema';
import { AppError } from '../../errors';
import type { ChannelRecord } from './types';
import { businessHoursSchema, entryPatternSchema, type ChannelRouting } from '@kefu/shared';
import { z } from 'zod';

const storedPatterns = z.array(entryPatternSchema);

/** A stored JSON column read back; what no longer parses reads as the column's empty value. */
function readJson<T>(text: string | null, schema: z.ZodType<T>, empty: T): T {
  if (text === null) return empty;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : empty;
  } catch {
    return empty;
  }
}

/** The channel's routing rules (hand-back policy, business hours, entry patterns). */
export function routingOf(row: Selectable<ChannelTable>): ChannelRouting {
  return {
    handbackPolicy: row.handbackPolicy,
    businessHours: readJson(row.businessHours, businessHoursSchema.nullable(), null),
    entryPatterns: readJson(row.entryPatterns, storedPatterns, []),
  };
}

export function toRecord(
  ctx: Pick<AppContext, 'secrets'>,
  row: Selectable<ChannelTable>,
): ChannelRecord {
  return {
    id: row.id,
    workspaceId: row.workspaceId,
    kind: row.kind,
    name: row.name,
    appId: row.appId,
    originalId: row.originalId,
    mode: row.mode,
    format: row.format,
    tokenEndpoint: row.tokenEndpoint,
    apiBase: row.apiBase,
    idleMinutes: row.idleMinutes,
    routing: routingOf(row),
    secrets: ctx.secrets.open(row.secretsEnc),
    platform: row.platformId
      ? { id: row.platformId, state: row.platformState ?? 'authorized' }
      : null,
  };
}

/** Loads a live channel with its secrets opened; unknown or deleted → CHANNEL_NOT_FOUND. */
export async function loadChannel(
  ctx: AppContext,
  id: string,
  db: Queryable = ctx.db,
  workspaceId?: string,
): Promise<ChannelRecord> {
  let q = db.selectFrom('channels').selectAll().where('id', '=', id).where('deletedAt', 'is', null);
  if (workspaceId) q = q.where('workspaceId', '=', workspaceId);
  const row = await q.executeTakeFirst();
  if (!row) throw new AppError('CHANNEL_NOT_FOUND');
  return toRecord(ctx, row);
}

/**
 * Locks a live channel's row for the rest of the transaction (a no-op update: PostgreSQL holds
 * the row lock; SQLite has one writer anyway), so bindings are counted one at a time and the
 * 100-agent limit cannot be overrun. Unknown, deleted or foreign → CHANNEL_NOT_FOUND.
 */
export async function lockChannel(tx: Tx, workspaceId: string, channelId: string): Promise<void> {
  const locked = await tx
    .updateTable('channels')
    .set((eb) => ({ name: eb.ref('name') }))
    .where('id', '=', channelId)
    .where('workspaceId', '=', workspaceId)
    .where('deletedAt', 'is', null)
    .executeTakeFirst();
  if (Number(locked.numUpdatedRows) !== 1) throw new AppError('CHANNEL_NOT_FOUND');
}
