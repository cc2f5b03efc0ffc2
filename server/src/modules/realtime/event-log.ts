import type { RealtimeEvent } from '@kefu/shared';
import type { Queryable, Tx } from '../../db/index';
import type { AfterCommit } from '../../lib/tx';

/** Who an event is for: everyone watching a channel, one agent, or the whole workspace. */
export interface Audience {
  channelId?: string | null;
  agentId?: string | null;
}

export interface StoredEvent {
  seq: number;
  channelId: string | null;
  agentId: string | null;
  event: RealtimeEvent;
  at: number;
}

/**
 * Why an agent's sockets must go: they signed out, lost their account or password (the console
 * must not reconnect), or their role changed (it reconnects and is authorized afresh).
 */
export type RevokeReason = 'signed_out' | 'disabled' | 'password_reset' | 'role_changed';

/** Closes an agent's sockets on every node: all of them, or only one session's. */
export interface RevokeNotice {
  workspaceId: string;
  agentId: string;
  sessionId?: string | undefined;
  reason: RevokeReason;
}

/** Notifies every node that a workspace's event stream grew, or that sockets must close. */
export interface EventNotifier {
  notify(workspaceId: string): void;
  revoke(notice: RevokeNotice): void;
}

/**
 * Appends an event to the workspace stream inside the caller's transaction.
 *
 * The sequence comes from `workspaces.event_seq`, incremented in the same transaction: the row
 * lock serializes event-producing transactions per workspace, so sequence order equals commit
 * order and a reader that sees seq N can never later find a smaller seq appear.
 */
export async function appendEvent(
  tx: Tx,
  after: AfterCommit,
  notifier: EventNotifier,
  workspaceId: string,
  audience: Audience,
  event: RealtimeEvent,
  now: number,
): Promise<number> {
  const row = await tx
    .updateTable('workspaces')
    .set((eb) => ({ eventSeq: eb('eventSeq', '+', 1) }))
    .where('id', '=', workspaceId)
    .returning('eventSeq')
    .executeTakeFirstOrThrow();
  const seq = Number(row.eventSeq);
  await tx
    .insertInto('events')
    .values({
      workspaceId,
      seq,
      channelId: audience.channelId ?? null,
      agentId: audience.agentId ?? null,
      name: event.name,
      payload: JSON.stringify(event.data),
      createdAt: now,
    })
    .execute();
  after(() => notifier.notify(workspaceId));
  return seq;
}

/** Events after `afterSeq`, oldest first. */
export async function readEvents(
  db: Queryable,
  workspaceId: string,
  afterSeq: number,
  limit = 500,
): Promise<StoredEvent[]> {
  const rows = await db
    .selectFrom('events')
    .selectAll()
    .where('workspaceId', '=', workspaceId)
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    seq: Number(r.seq),
    channelId: r.channelId,
    agentId: r.agentId,
    event: { name: r.name, data: JSON.parse(r.payload) as unknown } as RealtimeEvent,
    at: Number(r.createdAt),
  }));
}

/** The oldest sequence still kept; a client behind it must resync. */
export async function oldestKeptSeq(db: Queryable, workspaceId: string): Promise<number> {
  const row = await db
    .selectFrom('events')
    .select((eb) => eb.fn.min('seq').as('min'))
    .where('workspaceId', '=', workspaceId)
    .executeTakeFirst();
  return row?.min == null ? 0 : Number(row.min);
}

export async function currentSeq(db: Queryable, workspaceId: string): Promise<number> {
  const row = await db
    .selectFrom('workspaces')
    .select('eventSeq')
    .where('id', '=', workspaceId)
    .executeTakeFirst();
  return Number(row?.eventSeq ?? 0);
}

/** Drops events older than `olderThan` (ms epoch); resumes from before that get `resync`. */
export async function pruneEvents(db: Queryable, olderThan: number): Promise<void> {
  await db.deleteFrom('events').where('createdAt', '<', olderThan).execute();
}
