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

/** One event to append, with who may see it. */
export interface PendingEvent {
  audience: Audience;
  event: RealtimeEvent;
}

/**
 * Appends events to a workspace's stream inside the caller's transaction, taking their
 * sequences with one increment of `workspaces.event_seq` (not one per event).
 *
 * The row lock that increment takes serializes event-producing transactions per workspace, so
 * sequence order equals commit order and a reader that sees seq N can never later find a
 * smaller seq appear. Callers take it last (see makeTransact) and, for several workspaces, in
 * id order, so two transactions never wait for each other's locks.
 */
export async function appendEvents(
  tx: Tx,
  after: AfterCommit,
  notifier: EventNotifier,
  workspaceId: string,
  events: PendingEvent[],
  now: number,
): Promise<number> {
  if (events.length === 0) return 0;
  const row = await tx
    .updateTable('workspaces')
    .set((eb) => ({ eventSeq: eb('eventSeq', '+', events.length) }))
    .where('id', '=', workspaceId)
    .returning('eventSeq')
    .executeTakeFirstOrThrow();
  const last = Number(row.eventSeq);
  const first = last - events.length + 1;
  const rows = events.map((e, i) => ({
    workspaceId,
    seq: first + i,
    channelId: e.audience.channelId ?? null,
    agentId: e.audience.agentId ?? null,
    name: e.event.name,
    payload: JSON.stringify(e.event.data),
    createdAt: now,
  }));
  // Bound the statement's parameters (7 per row) well under either database's limit.
  for (let i = 0; i < rows.length; i += 500)
    await tx
      .insertInto('events')
      .values(rows.slice(i, i + 500))
      .execute();
  after(() => notifier.notify(workspaceId));
  return last;
}

/** Appends one event; see appendEvents. */
export function appendEvent(
  tx: Tx,
  after: AfterCommit,
  notifier: EventNotifier,
  workspaceId: string,
  audience: Audience,
  event: RealtimeEvent,
  now: number,
): Promise<number> {
  return appendEvents(tx, after, notifier, workspaceId, [{ audience, event }], now);
}

/** Groups events by workspace, in first-seen order within each and workspaces by id. */
export function byWorkspace<T extends PendingEvent & { workspaceId: string }>(
  events: T[],
): [string, T[]][] {
  const groups = new Map<string, T[]>();
  for (const e of events) {
    const list = groups.get(e.workspaceId);
    if (list) list.push(e);
    else groups.set(e.workspaceId, [e]);
  }
  return [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
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
