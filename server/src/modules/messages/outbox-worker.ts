import { LIMITS, type Message } from '@kefu/shared';
import { sql } from 'kysely';
import type { AppContext } from '../../context';
import type { Selectable } from 'kysely';
import type { OutboxTable } from '../../db/schema';
import { loadChannel } from '../channels/channel-store';
import { adapterFor } from '../channels/registry';
import { PlatformError, type MediaRef, type OutgoingPayload } from '../channels/types';
import { onPlatformError } from '../channels/wechat/reply-window';
import { loadConversation, messageView, replyWindowOf } from '../conversations/views';
import { sniffImage, storeImage } from './media-service';

const MAX_ATTEMPTS = 8;
const INBOUND_IMAGE_MAX_BYTES = 10 * 1024 * 1024;
const LOCK_MS = 60_000;

/** Backoff for transient failures: 1 s, 2 s, 4 s … capped at 5 minutes. */
export function backoffMs(attempts: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attempts - 1), 300_000);
}

type Job = Selectable<OutboxTable>;

/**
 * Claims due jobs. PostgreSQL: FOR UPDATE SKIP LOCKED so several nodes share the outbox without
 * taking the same row; SQLite has one writer, so a plain conditional update is enough.
 */
async function claim(ctx: AppContext, limit: number): Promise<Job[]> {
  const now = ctx.now();
  return ctx.db.transaction().execute(async (tx) => {
    const due = tx
      .selectFrom('outbox')
      .select('id')
      .where('nextAttemptAt', '<=', now)
      .where((eb) => eb.or([eb('lockedUntil', 'is', null), eb('lockedUntil', '<', now)]))
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
    const ids = (
      ctx.dialect === 'postgres'
        ? await due.modifyEnd(sql`for update skip locked`).execute()
        : await due.execute()
    ).map((r) => r.id);
    if (ids.length === 0) return [];
    return tx
      .updateTable('outbox')
      .set({ lockedUntil: now + LOCK_MS, lockedBy: ctx.config.nodeId })
      .where('id', 'in', ids)
      .returningAll()
      .execute()
      .then((rows) => rows.sort((a, b) => Number(a.id) - Number(b.id)));
  });
}

async function mediaRef(ctx: AppContext, id: string | null | undefined): Promise<MediaRef | null> {
  if (!id) return null;
  const m = await ctx.db.selectFrom('media').selectAll().where('id', '=', id).executeTakeFirst();
  return m
    ? {
        id: m.id,
        mime: m.mime,
        data: m.data,
        platformMediaId: m.platformMediaId,
        platformChannelId: m.platformChannelId,
        platformExpiresAt: m.platformExpiresAt == null ? null : Number(m.platformExpiresAt),
      }
    : null;
}

async function payloadFor(ctx: AppContext, msg: Message): Promise<OutgoingPayload> {
  switch (msg.kind) {
    case 'text':
      return { type: 'text', text: msg.body.text ?? '' };
    case 'image': {
      const media = await mediaRef(ctx, msg.mediaId);
      if (!media) throw new PlatformError(0, 'The image is no longer stored', false);
      return { type: 'image', media };
    }
    case 'miniprogrampage': {
      const card = msg.body.card!;
      return {
        type: 'miniprogrampage',
        title: card.title,
        pagePath: card.pagePath,
        ...(card.appId ? { appId: card.appId } : {}),
        thumb: await mediaRef(ctx, msg.mediaId),
      };
    }
    case 'link':
      return { type: 'link', ...msg.body.link! };
    default:
      throw new PlatformError(0, `Cannot send a ${msg.kind} message`, false);
  }
}

async function finish(
  ctx: AppContext,
  job: Job,
  patch: Partial<Pick<Message, 'delivery' | 'errorCode' | 'errorReason' | 'sentAt' | 'mediaId'>>,
  body?: Message['body'],
): Promise<void> {
  await ctx.transact(async (u) => {
    await u.tx
      .updateTable('messages')
      .set({ ...patch, ...(body ? { body: JSON.stringify(body) } : {}) })
      .where('id', '=', job.messageId)
      .execute();
    await u.tx.deleteFrom('outbox').where('id', '=', job.id).execute();
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
  });
}

async function runSend(ctx: AppContext, job: Job, msg: Message, openid: string): Promise<void> {
  const channel = await loadChannel(ctx, job.channelId);
  const { uploaded } = await adapterFor(ctx, channel).send(
    channel,
    openid,
    await payloadFor(ctx, msg),
  );
  for (const up of uploaded) {
    await ctx.db
      .updateTable('media')
      .set({
        platformMediaId: up.platformMediaId,
        platformChannelId: channel.id,
        platformExpiresAt: up.expiresAt,
      })
      .where('id', '=', up.mediaId)
      .execute();
  }
  await finish(ctx, job, {
    delivery: 'sent',
    sentAt: ctx.now(),
    errorCode: null,
    errorReason: null,
  });
}

async function runFetchMedia(ctx: AppContext, job: Job, msg: Message): Promise<void> {
  const channel = await loadChannel(ctx, job.channelId);
  const platformMediaId = msg.body.params?.platformMediaId ?? '';
  const { data } = await adapterFor(ctx, channel).fetchMedia(channel, platformMediaId);
  if (!sniffImage(data))
    throw new PlatformError(0, 'The platform returned something that is not an image', false);
  // Customers' pictures may be larger than what WeChat lets us send (2 MB); keep up to 10 MB.
  const stored = await storeImage(
    ctx.db,
    ctx.now(),
    job.workspaceId,
    data,
    { channelId: job.channelId },
    INBOUND_IMAGE_MAX_BYTES,
  ).catch((err: unknown) => {
    throw new PlatformError(0, `The picture could not be kept: ${(err as Error).message}`, false);
  });
  if (msg.kind === 'miniprogrampage') {
    await finish(
      ctx,
      job,
      {},
      { ...msg.body, card: { ...msg.body.card!, thumbMediaId: stored.id } },
    );
  } else {
    await finish(ctx, job, { mediaId: stored.id });
  }
}

async function fail(ctx: AppContext, job: Job, err: PlatformError): Promise<void> {
  if (job.job === 'fetch_media') {
    // The customer's message stays; only its picture is missing, and the reason says why.
    await finish(ctx, job, { errorCode: err.code, errorReason: err.reason });
    return;
  }
  await ctx.transact(async (u) => {
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
    // The platform's word wins over our count; a failure that was not about the window gives the slot back.
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
  await finish(ctx, job, { delivery: 'failed', errorCode: err.code, errorReason: err.reason });
}

async function runJob(ctx: AppContext, job: Job): Promise<void> {
  const row = await ctx.db
    .selectFrom('messages')
    .selectAll()
    .where('id', '=', job.messageId)
    .executeTakeFirst();
  if (!row) return void (await ctx.db.deleteFrom('outbox').where('id', '=', job.id).execute());
  const msg = messageView(row);
  try {
    if (job.job === 'fetch_media') await runFetchMedia(ctx, job, msg);
    else {
      const customer = await ctx.db
        .selectFrom('customers')
        .select('openid')
        .where('id', '=', row.customerId)
        .executeTakeFirstOrThrow();
      await runSend(ctx, job, msg, customer.openid);
    }
  } catch (e) {
    const err =
      e instanceof PlatformError
        ? e
        : new PlatformError(-2, `Unexpected error: ${(e as Error).message}`, true);
    if (err.transient && job.attempts + 1 < MAX_ATTEMPTS) {
      const delayMs = backoffMs(job.attempts + 1);
      ctx.log.warn(
        {
          messageId: job.messageId,
          job: job.job,
          attempt: job.attempts + 1,
          delayMs,
          code: err.code,
        },
        `outbox job failed, will retry: ${err.reason}`,
      );
      await ctx.db
        .updateTable('outbox')
        .set({
          attempts: job.attempts + 1,
          nextAttemptAt: ctx.now() + delayMs,
          lockedUntil: null,
          lockedBy: null,
          lastError: `${err.code}: ${err.reason}`,
        })
        .where('id', '=', job.id)
        .execute();
      return;
    }
    ctx.log.warn(
      { messageId: job.messageId, code: err.code, reason: err.reason },
      'outbox job failed for good',
    );
    await fail(ctx, job, err);
  }
}

/** How many jobs one node runs at once (platform calls overlap; database writes still queue). */
const CONCURRENCY = 8;

/**
 * One pass over the outbox. A claimed batch holds at most one reply per customer (only the
 * oldest unsent one is due), so the jobs can run side by side without reordering anyone's
 * replies; a job that fails transiently is rescheduled and the customer's later replies wait.
 */
export async function processOutbox(ctx: AppContext, batch = 20): Promise<number> {
  const jobs = await claim(ctx, batch);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      // What reaches here is a failure of the bookkeeping itself (the database): the job's lease
      // runs out and it is claimed again. Never silent.
      await runJob(ctx, job).catch((err: unknown) =>
        ctx.log.error(
          { err, messageId: job.messageId, job: job.job },
          'outbox job bookkeeping failed',
        ),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, jobs.length) }, lane));
  return jobs.length;
}
