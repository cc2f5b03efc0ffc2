import { ERROR_CODES, LIMITS, type Message } from '@kefu/shared';
import { randomUUID } from 'node:crypto';
import { sql, type ExpressionBuilder, type Selectable } from 'kysely';
import { AppError } from '../../errors';
import type { AppContext, Unit } from '../../context';
import type { Queryable } from '../../db/index';
import type { Database, OutboxTable } from '../../db/schema';
import type { PlatformError } from '../channels/types';
import { checkSend, onPlatformError } from '../channels/wechat/reply-window';
import { loadConversation, messageView, replyWindowOf, windowView } from '../conversations/views';

/**
 * Queues a job for the outbox worker in the caller's transaction (the message and its job commit
 * together). Sends carry the customer so their replies leave in order.
 */
export async function enqueueJob(
  u: Unit,
  job: {
    workspaceId: string;
    messageId: string;
    channelId: string;
    job: 'send' | 'fetch_media';
    customerId: string | null;
  },
  now: number,
): Promise<void> {
  await u.tx
    .insertInto('outbox')
    .values({
      ...job,
      attempts: 0,
      nextAttemptAt: now,
      lockedUntil: null,
      lockedBy: null,
      lastError: null,
      createdAt: now,
    })
    .execute();
}

/**
 * Takes one reply from the customer's window and quota, or refuses with WINDOW_CLOSED /
 * QUOTA_EXHAUSTED (and the window, so the console can say until when). The take is one
 * conditional UPDATE, not a read then a write: a customer message committed in between (which
 * resets the quota to 5) can then never be overwritten with the quota this reply saw.
 */
export async function reserveReply(u: Unit, customerId: string, now: number): Promise<void> {
  const taken = await u.tx
    .updateTable('customers')
    .set((eb) => ({ windowQuota: eb('windowQuota', '-', 1) }))
    .where('id', '=', customerId)
    .where('windowQuota', '>', 0)
    .where('windowExpiresAt', '>', now)
    .executeTakeFirst();
  if (Number(taken.numUpdatedRows) === 1) return;
  const customer = await u.tx
    .selectFrom('customers')
    .selectAll()
    .where('id', '=', customerId)
    .executeTakeFirstOrThrow();
  const refusal = checkSend(replyWindowOf(customer), now) ?? 'QUOTA_EXHAUSTED';
  throw new AppError(refusal, undefined, { window: windowView(customer, now) });
}

/** How long a claim holds a job; the worker renews it while the job runs. */
export const LOCK_MS = 60_000;

export type Job = Selectable<OutboxTable>;

/** Who claims: this process's instance id and the instances found dead (their jobs are free). */
export interface Claimant {
  instanceId: string;
  dead: string[];
}

/**
 * Claims due jobs. PostgreSQL: FOR UPDATE SKIP LOCKED so several nodes share the outbox without
 * taking the same row; SQLite has one writer, so a plain conditional update is enough. A job is
 * free when unclaimed, when its lease ran out, or when its claimer is dead (node heartbeats):
 * then it is taken at once, not after the lease. The rows come back as they were before the
 * claim except for the lock, so `sendingSince` tells a send the dead node had already started.
 */
export async function claimJobs(
  ctx: AppContext,
  who: Claimant,
  limit: number,
): Promise<ClaimedJob[]> {
  const now = ctx.now();
  const claimId = randomUUID();
  return ctx.db.transaction().execute(async (tx): Promise<ClaimedJob[]> => {
    const due = tx
      .selectFrom('outbox')
      .select(['id', 'lockedBy'])
      .where('nextAttemptAt', '<=', now)
      .where((eb) =>
        eb.or([
          eb('lockedUntil', 'is', null),
          eb('lockedUntil', '<', now),
          ...(who.dead.length > 0 ? [eb('lockedBy', 'in', who.dead)] : []),
        ]),
      )
      // Only a customer's oldest unsent reply is due: later ones never overtake it, on any node.
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('outbox as earlier')
              .select('earlier.id')
              .whereRef('earlier.customerId', '=', 'outbox.customerId')
              .whereRef('earlier.id', '<', 'outbox.id'),
          ),
        ),
      )
      .orderBy('id')
      .limit(limit);
    const rows =
      ctx.dialect === 'postgres'
        ? await due.modifyEnd(sql`for update skip locked`).execute()
        : await due.execute();
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const claimed = await tx
      .updateTable('outbox')
      .set({ lockedUntil: now + LOCK_MS, lockedBy: who.instanceId, claimId })
      .where('id', 'in', ids)
      .returningAll()
      .execute();
    const before = new Map(rows.map((r) => [Number(r.id), r.lockedBy]));
    return claimed
      .map((j) => ({ ...j, previousOwner: before.get(Number(j.id)) ?? null }))
      .sort((a, b) => Number(a.id) - Number(b.id));
  });
}

/** A job row as claimed, with the claimer it was taken from (null when it was free). */
export type ClaimedJob = Job & { previousOwner: string | null };

/** The claimer's writes name the job and the claim: a job taken over meanwhile is left alone. */
function ours(job: Job) {
  return (eb: ExpressionBuilder<Database, 'outbox'>) =>
    eb.and([eb('id', '=', job.id), eb('claimId', '=', job.claimId)]);
}

/**
 * Records, committed, that the send is about to start. False when the job is no longer ours
 * (another node took it for dead): then nothing may be sent.
 */
export async function markSending(db: Queryable, job: Job, now: number): Promise<boolean> {
  const res = await db
    .updateTable('outbox')
    .set({ sendingSince: now })
    .where(ours(job))
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/**
 * Gives a job back for a later try (no send reached the platform, or the platform refused it).
 * False when the job is no longer ours.
 */
export async function releaseJob(
  db: Queryable,
  job: Job,
  patch: { attempts: number; nextAttemptAt: number; lastError: string | null },
): Promise<boolean> {
  const res = await db
    .updateTable('outbox')
    .set({ ...patch, lockedUntil: null, lockedBy: null, claimId: null, sendingSince: null })
    .where(ours(job))
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Deletes a finished job; false when it is no longer ours (the caller's transaction decides). */
export async function deleteJob(db: Queryable, job: Job): Promise<boolean> {
  const res = await db.deleteFrom('outbox').where(ours(job)).executeTakeFirst();
  return Number(res.numDeletedRows) === 1;
}

/** Extends the leases of the jobs this process is running. */
export async function renewLeases(
  db: Queryable,
  instanceId: string,
  ids: number[],
  until: number,
): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('outbox')
    .set({ lockedUntil: until })
    .where('id', 'in', ids)
    .where('lockedBy', '=', instanceId)
    .execute();
}

/** The reason a person reads on a reply whose sender died between WeChat's answer and ours. */
export const UNCERTAIN_REASON = `${ERROR_CODES.DELIVERY_UNCERTAIN.message} (DELIVERY_UNCERTAIN)`;

/** Another node took the job over (it found this one dead): this node must not touch it. */
export class ClaimLost extends Error {}

/** What a job changes on its message when it ends. */
export type Patch = Partial<
  Pick<Message, 'delivery' | 'errorCode' | 'errorReason' | 'sentAt' | 'mediaId'>
>;

/** Platform media ids a send uploaded, to be reused while valid. */
export type Uploaded = { mediaId: string; platformMediaId: string; expiresAt: number }[];

async function emitMessage(u: Unit, job: Job): Promise<void> {
  const row = await u.tx
    .selectFrom('messages')
    .selectAll()
    .where('id', '=', job.messageId)
    .executeTakeFirstOrThrow();
  await u.emit(
    job.workspaceId,
    { channelId: job.channelId },
    { name: 'message.updated', data: { message: messageView(row) } },
  );
}

/**
 * Ends a job inside `u`: deletes it (only if still ours, else ClaimLost rolls everything back),
 * applies `patch` to its message and announces the message.
 */
async function finishIn(u: Unit, job: Job, patch: Patch, body?: Message['body']): Promise<void> {
  if (!(await deleteJob(u.tx, job))) throw new ClaimLost();
  await u.tx
    .updateTable('messages')
    .set({ ...patch, ...(body ? { body: JSON.stringify(body) } : {}) })
    .where('id', '=', job.messageId)
    .execute();
  await emitMessage(u, job);
}

/**
 * The platform accepted the send: the message is sent and the job gone. If the job was taken
 * over meanwhile (this node was taken for dead), the taker marked the message uncertain (an
 * attempt that started is never resent) and we know better; anything else (a person resent it)
 * stays as it is.
 */
export function recordSent(ctx: AppContext, job: Job, uploaded: Uploaded): Promise<void> {
  return ctx.transact(async (u) => {
    const mine = await deleteJob(u.tx, job);
    for (const up of uploaded) {
      await u.tx
        .updateTable('media')
        .set({
          platformMediaId: up.platformMediaId,
          platformChannelId: job.channelId,
          platformExpiresAt: up.expiresAt,
        })
        .where('id', '=', up.mediaId)
        .execute();
    }
    let update = u.tx
      .updateTable('messages')
      .set({ delivery: 'sent', sentAt: ctx.now(), errorCode: null, errorReason: null })
      .where('id', '=', job.messageId);
    if (!mine) {
      ctx.log.warn(
        { jobId: job.id, messageId: job.messageId },
        'outbox job was taken over after our send; marking the message sent',
      );
      update = update.where('delivery', '=', 'failed').where('errorReason', '=', UNCERTAIN_REASON);
    }
    const res = await update.executeTakeFirst();
    if (Number(res.numUpdatedRows) === 1) await emitMessage(u, job);
  });
}

/** A received image (or card cover) was fetched and stored. */
export function recordMedia(
  ctx: AppContext,
  job: Job,
  o: { patch: Patch; body?: Message['body'] },
): Promise<void> {
  return ctx.transact((u) => finishIn(u, job, o.patch, o.body));
}

/** A job failed for good: the message says why, and the reply window follows the platform. */
export function recordFailure(ctx: AppContext, job: Job, err: PlatformError): Promise<void> {
  const patch = { errorCode: err.code, errorReason: err.reason };
  // The customer's message stays; only its picture is missing, and the reason says why.
  if (job.job === 'fetch_media') return ctx.transact((u) => finishIn(u, job, patch));
  return ctx.transact(async (u) => {
    await finishIn(u, job, { ...patch, delivery: 'failed' });
    const msg = await u.tx
      .selectFrom('messages')
      .select(['customerId'])
      .where('id', '=', job.messageId)
      .executeTakeFirstOrThrow();
    const customer = await u.tx
      .selectFrom('customers')
      .selectAll()
      .where('id', '=', msg.customerId)
      .executeTakeFirstOrThrow();
    const w = replyWindowOf(customer);
    // The platform's word wins over our count; a failure that was not about the window gives
    // the slot back.
    const next = err.windowEffect
      ? onPlatformError(w, err.code, ctx.now())
      : { ...w, quotaLeft: Math.min(w.quotaLeft + 1, LIMITS.windowMessageQuota) };
    await u.tx
      .updateTable('customers')
      .set({ windowExpiresAt: next.expiresAt, windowQuota: next.quotaLeft })
      .where('id', '=', customer.id)
      .execute();
    const open = await u.tx
      .selectFrom('conversations')
      .select('id')
      .where('customerId', '=', customer.id)
      .where('state', '!=', 'closed')
      .execute();
    for (const c of open) {
      const conversation = await loadConversation(u.tx, job.workspaceId, c.id, ctx.now());
      await u.emit(
        job.workspaceId,
        { channelId: job.channelId },
        { name: 'conversation.updated', data: { conversation } },
      );
    }
  });
}

/**
 * A send its dead claimer had started may have reached the customer: failed as
 * DELIVERY_UNCERTAIN, never resent by itself. The quota slot stays taken (WeChat counted it if
 * it arrived).
 */
export function recordUncertain(ctx: AppContext, job: Job): Promise<void> {
  return ctx.transact((u) =>
    finishIn(u, job, { delivery: 'failed', errorCode: 0, errorReason: UNCERTAIN_REASON }),
  );
}
