import type { AuditAction, AuditEntry, AuditPage } from '@kefu/shared';
import { sql } from 'kysely';
import type { AppContext, Unit } from '../../context';
import type { Queryable } from '../../db/index';
import { newId } from '../../lib/ids';

/** Who did it: an agent (with the address of their request when known), or the system. */
export interface AuditActor {
  agentId: string | null;
  ip?: string | null | undefined;
}

export interface AuditInput {
  workspaceId: string;
  /** Null: the system (auto-assign). */
  actor: AuditActor | null;
  action: AuditAction;
  target?: { type: string; id: string } | undefined;
  details?: Record<string, unknown> | undefined;
}

/** The name shown for entries without an agent. */
export const SYSTEM_ACTOR = 'system';

/**
 * Writes one audit row. Given the action's unit of work it is written in that transaction, so
 * the action and its row commit (or roll back) together; with `null` it is written on its own,
 * for actions that have no transaction (call it after the action succeeded). The actor's
 * display name is copied into the row so the log stays readable after a rename.
 */
export async function recordAudit(
  ctx: Pick<AppContext, 'db' | 'now'>,
  u: Unit | null,
  input: AuditInput,
): Promise<void> {
  const db: Queryable = u ? u.tx : ctx.db;
  const actorId = input.actor?.agentId ?? null;
  const actor = actorId
    ? await db
        .selectFrom('agents')
        .select('displayName')
        .where('id', '=', actorId)
        .where('workspaceId', '=', input.workspaceId)
        .executeTakeFirst()
    : undefined;
  await db
    .insertInto('auditLog')
    .values({
      workspaceId: input.workspaceId,
      id: newId(),
      at: ctx.now(),
      actorId,
      actorName: actor?.displayName ?? SYSTEM_ACTOR,
      action: input.action,
      targetType: input.target?.type ?? null,
      targetId: input.target?.id ?? null,
      details: JSON.stringify(input.details ?? {}),
      ip: input.actor?.ip ?? null,
    })
    .execute();
}

export interface AuditFilter {
  actor?: string | undefined;
  action?: AuditAction | undefined;
  from?: number | undefined;
  to?: number | undefined;
  q?: string | undefined;
  before?: string | undefined;
  limit: number;
}

/** A page of one workspace's audit log, newest first, continued by keyset (at, id). */
export async function listAudit(
  ctx: Pick<AppContext, 'db'>,
  workspaceId: string,
  f: AuditFilter,
): Promise<AuditPage> {
  let q = ctx.db.selectFrom('auditLog').selectAll().where('workspaceId', '=', workspaceId);
  if (f.actor) q = q.where('actorId', '=', f.actor);
  if (f.action) q = q.where('action', '=', f.action);
  if (f.from !== undefined) q = q.where('at', '>=', f.from);
  if (f.to !== undefined) q = q.where('at', '<', f.to);
  if (f.q) {
    // A plain substring: LIKE's own wildcards in the search text match only themselves.
    const pattern = `%${f.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q = q.where((eb) =>
      eb.or(
        ['targetId', 'targetType', 'details'].map(
          (col) => sql<boolean>`lower(${sql.ref(col)}) like ${pattern} escape '\\'`,
        ),
      ),
    );
  }
  if (f.before) {
    const [at, id] = [Number(f.before.split(':')[0]), f.before.slice(f.before.indexOf(':') + 1)];
    q = q.where((eb) => eb.or([eb('at', '<', at), eb.and([eb('at', '=', at), eb('id', '<', id)])]));
  }
  const rows = await q
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(f.limit + 1)
    .execute();
  const page = rows.slice(0, f.limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r): AuditEntry => ({
      id: r.id,
      at: Number(r.at),
      actorId: r.actorId,
      actorName: r.actorName,
      action: r.action as AuditAction,
      targetType: r.targetType,
      targetId: r.targetId,
      details: JSON.parse(r.details) as Record<string, unknown>,
      ip: r.ip,
    })),
    next: rows.length > f.limit && last ? `${Number(last.at)}:${last.id}` : null,
  };
}
