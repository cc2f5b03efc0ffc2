import { AppError } from '../../errors';
import type { Unit } from '../../context';
import { checkSend } from '../channels/wechat/reply-window';
import { replyWindowOf, windowView } from '../conversations/views';

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
