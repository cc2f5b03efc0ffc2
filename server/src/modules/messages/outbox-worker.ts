import type { Message } from '@kefu/shared';
import type { AppContext } from '../../context';
import { loadChannel } from '../channels/channel-store';
import { adapterFor } from '../channels/registry';
import {
  PlatformError,
  type ChannelAdapter,
  type ChannelRecord,
  type MediaRef,
  type OutgoingPayload,
} from '../channels/types';
import type { NodeHeartbeat } from '../cluster/node-heartbeat';
import { messageView } from '../conversations/views';
import { sniffImage, storeImage } from './media-service';
import {
  ClaimLost,
  claimJobs,
  deleteJob,
  LOCK_MS,
  markSending,
  recordFailure,
  recordMedia,
  recordSent,
  recordUncertain,
  releaseJob,
  renewLeases,
  type ClaimedJob,
  type Job,
  type Patch,
  type Uploaded,
} from './outbox-jobs';

const MAX_ATTEMPTS = 8;
const INBOUND_IMAGE_MAX_BYTES = 10 * 1024 * 1024;
/** How many jobs one node runs at once (platform calls overlap; database writes still queue). */
const CONCURRENCY = 8;
const BOOKKEEPING_FIRST_MS = 250;
const BOOKKEEPING_MAX_MS = 5_000;

/** Backoff for transient failures: 1 s, 2 s, 4 s … capped at 5 minutes. */
export function backoffMs(attempts: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attempts - 1), 300_000);
}

/**
 * The hook an adapter's send awaits once the token and any upload are ready, just before the
 * platform call (ChannelAdapter.send's optional last argument).
 */
interface SendHooks {
  beforeSend(): Promise<void>;
}
type HookedSend = (
  channel: ChannelRecord,
  openid: string,
  payload: OutgoingPayload,
  hooks: SendHooks,
) => ReturnType<ChannelAdapter['send']>;

/** The error's code (SQLite, PostgreSQL, AppError), else its name: logs always say which. */
const errCode = (err: unknown): unknown =>
  (err as { code?: unknown } | null)?.code ?? (err as Error | null)?.name ?? 'unknown';

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

/**
 * The outbox of one node. Each send follows one rule: the attempt is recorded (committed) just
 * before the platform call, and once the platform has answered, only the bookkeeping is ever
 * retried, never the send. A job whose claimer died is taken over at once (node heartbeats);
 * if the dead node had started its send, the outcome is unknown (custom/send has no idempotency
 * key) and the message fails as DELIVERY_UNCERTAIN instead of going out a second time.
 */
export class OutboxWorker {
  /** Jobs this node is running: their leases are renewed until they are done. */
  private readonly running = new Set<number>();
  private stopping = false;

  constructor(
    private readonly ctx: AppContext,
    private readonly heartbeat: NodeHeartbeat,
  ) {}

  /**
   * One pass over the outbox. A claimed batch holds at most one reply per customer (only the
   * oldest unsent one is due), so the jobs can run side by side without reordering anyone's
   * replies; a job that fails transiently is rescheduled and the customer's later replies wait.
   */
  async process(batch = 20): Promise<number> {
    const dead = await this.heartbeat.deadInstances();
    const jobs = await claimJobs(this.ctx, { instanceId: this.heartbeat.instanceId, dead }, batch);
    for (const job of jobs) this.running.add(job.id);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        // runJob handles and logs every failure it expects; what reaches here is a bug or a
        // bookkeeping retry given up at shutdown. Never silent.
        await this.runJob(job)
          .catch((err: unknown) =>
            this.ctx.log.error(
              { err, jobId: job.id, messageId: job.messageId, job: job.job },
              'outbox job failed unexpectedly; its lease runs out and it is claimed again',
            ),
          )
          .finally(() => this.running.delete(job.id));
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, jobs.length) }, lane));
    return jobs.length;
  }

  /** Extends the leases of the running jobs (called well within LOCK_MS). */
  async renewLeases(): Promise<void> {
    const ids = [...this.running];
    await renewLeases(this.ctx.db, this.heartbeat.instanceId, ids, this.ctx.now() + LOCK_MS);
  }

  /** Shutting down: bookkeeping retries give up (the job stays marked as sending). */
  stop(): void {
    this.stopping = true;
  }

  private async runJob(job: ClaimedJob): Promise<void> {
    const base = { jobId: job.id, messageId: job.messageId, job: job.job };
    if (job.previousOwner && job.previousOwner !== this.heartbeat.instanceId) {
      this.ctx.log.warn(
        { ...base, from: job.previousOwner, sending: job.sendingSince != null },
        'outbox job taken over from a node that died or stalled',
      );
    }
    try {
      if (job.job === 'send' && job.sendingSince != null) await this.settleUncertain(job);
      else await this.attempt(job);
    } catch (err) {
      if (!(err instanceof ClaimLost)) throw err;
      this.ctx.log.warn(base, 'outbox job no longer ours (taken over by another node); left alone');
    }
  }

  private async attempt(job: Job): Promise<void> {
    let outcome: Uploaded | { patch: Patch; body?: Message['body'] };
    try {
      const row = await this.ctx.db
        .selectFrom('messages')
        .selectAll()
        .where('id', '=', job.messageId)
        .executeTakeFirst();
      if (!row) return void (await deleteJob(this.ctx.db, job));
      const msg = messageView(row);
      outcome =
        job.job === 'fetch_media' ? await this.fetchMedia(job, msg) : await this.send(job, msg);
    } catch (e) {
      if (e instanceof ClaimLost) throw e;
      // Nothing reached the platform, or it refused: the try counts, and is logged.
      return this.failed(job, e);
    }
    await this.persist(job, 'recording the outcome', () =>
      Array.isArray(outcome)
        ? recordSent(this.ctx, job, outcome)
        : recordMedia(this.ctx, job, outcome),
    );
  }

  /** Token, upload, then (committed) the attempt, then the platform call. */
  private async send(job: Job, msg: Message): Promise<Uploaded> {
    const { ctx } = this;
    const customer = await ctx.db
      .selectFrom('customers')
      .select('openid')
      .where('id', '=', msg.customerId)
      .executeTakeFirstOrThrow();
    const channel = await loadChannel(ctx, job.channelId);
    const payload = await payloadFor(ctx, msg);
    const adapter = adapterFor(ctx, channel);
    // Adapters that know the hook call it just before the platform call; one that does not
    // sends without it (and a death mid-send then cannot be told from one before it).
    const send: HookedSend = adapter.send.bind(adapter);
    let hookFailure: unknown = null;
    const hooks: SendHooks = {
      beforeSend: async () => {
        let marked = false;
        try {
          marked = await markSending(ctx.db, job, ctx.now());
        } catch (err) {
          hookFailure = err;
          throw err;
        }
        if (!marked) {
          hookFailure = new ClaimLost();
          throw hookFailure;
        }
      },
    };
    try {
      return (await send(channel, customer.openid, payload, hooks)).uploaded;
    } catch (err) {
      // The adapter wraps whatever the hook threw; the hook's own failure is the real one.
      throw hookFailure ?? err;
    }
  }

  private async fetchMedia(
    job: Job,
    msg: Message,
  ): Promise<{ patch: Patch; body?: Message['body'] }> {
    const { ctx } = this;
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
      return {
        patch: {},
        body: { ...msg.body, card: { ...msg.body.card!, thumbMediaId: stored.id } },
      };
    }
    return { patch: { mediaId: stored.id } };
  }

  /** A failed try: rescheduled while transient and under MAX_ATTEMPTS, else failed for good. */
  private async failed(job: Job, e: unknown): Promise<void> {
    const { ctx } = this;
    const err =
      e instanceof PlatformError
        ? e
        : new PlatformError(-2, `Unexpected error: ${(e as Error).message}`, true);
    const attempt = job.attempts + 1;
    const base = { jobId: job.id, messageId: job.messageId, job: job.job, attempt, code: err.code };
    if (err.transient && attempt < MAX_ATTEMPTS) {
      const delayMs = backoffMs(attempt);
      ctx.log.warn({ ...base, delayMs }, `outbox job failed, will retry: ${err.reason}`);
      const kept = await this.persist(job, 'rescheduling', () =>
        releaseJob(ctx.db, job, {
          attempts: attempt,
          nextAttemptAt: ctx.now() + delayMs,
          lastError: `${err.code}: ${err.reason}`,
        }),
      );
      if (!kept) throw new ClaimLost();
      return;
    }
    ctx.log.warn({ ...base, reason: err.reason }, 'outbox job failed for good');
    await this.persist(job, 'recording the failure', () => recordFailure(ctx, job, err));
  }

  /** A send its dead claimer had started: settled as uncertain, never sent again. */
  private async settleUncertain(job: Job): Promise<void> {
    this.ctx.log.warn(
      { jobId: job.id, messageId: job.messageId, sendingSince: job.sendingSince },
      'reply delivery uncertain: its node died while sending; not resending it',
    );
    await this.persist(job, 'recording an uncertain delivery', () =>
      recordUncertain(this.ctx, job),
    );
  }

  /**
   * Runs a bookkeeping write until it succeeds, with backoff, the job's lease renewed meanwhile:
   * the platform has answered, so giving up would let another node send again. Only a lost
   * claim (re-thrown) or shutdown ends it early.
   */
  private async persist<T>(job: Job, what: string, write: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (err) {
        if (err instanceof ClaimLost) throw err;
        const base = { err, jobId: job.id, messageId: job.messageId, attempt, code: errCode(err) };
        if (this.stopping) {
          this.ctx.log.error(base, `outbox bookkeeping (${what}) abandoned at shutdown`);
          throw err;
        }
        const delayMs = Math.min(BOOKKEEPING_FIRST_MS * 2 ** (attempt - 1), BOOKKEEPING_MAX_MS);
        this.ctx.log.warn(
          { ...base, delayMs },
          `outbox bookkeeping failed (${what}); retrying it, never the send`,
        );
        await new Promise((r) => setTimeout(r, delayMs));
      }
    }
  }
}
