import type { RealtimeEvent } from '@kefu/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from './config';
import type { Db, Dialect, Tx } from './db/index';
import type { RateLimiter } from './lib/rate-limit';
import type { SecretBox } from './lib/secret-box';
import type { ChannelCache } from './modules/channels/channel-cache';
import type { ChannelAdapter } from './modules/channels/types';
import { inTransaction, type AfterCommit } from './lib/tx';
import {
  appendEvents,
  byWorkspace,
  type Audience,
  type EventNotifier,
} from './modules/realtime/event-log';

/** One unit of work: a transaction, post-commit hooks, and event emission bound to both. */
export interface Unit {
  tx: Tx;
  after: AfterCommit;
  /** Queues an event; it is appended (and its sequence taken) when the work is done. */
  emit(workspaceId: string, audience: Audience, event: RealtimeEvent): Promise<void>;
}

/** Wakes background workers early (they also poll, so a lost kick only delays). */
export interface Kicks {
  outbox(): void;
  assignment(workspaceId: string, channelId: string): void;
}

/** Everything a service needs; built once by buildApp. */
export interface AppContext {
  config: Config;
  db: Db;
  dialect: Dialect;
  now: () => number;
  log: FastifyBaseLogger;
  secrets: SecretBox;
  notifier: EventNotifier;
  kicks: Kicks;
  /** Channel adapters by channel kind. */
  adapters: Record<string, ChannelAdapter>;
  /** Live channels with opened secrets, for the push path. */
  channels: ChannelCache;
  /** Sign-in and reply limits; shared through Redis in cluster mode. */
  rateLimiter: RateLimiter;
  transact<T>(fn: (u: Unit) => Promise<T>): Promise<T>;
}

/**
 * Transactions whose events are appended at the very end, just before commit. Taking the
 * workspace's sequence (a row lock) is then always a transaction's last lock, so two
 * transactions can never each hold a lock the other waits for (no deadlock on PostgreSQL).
 */
export function makeTransact(ctx: Omit<AppContext, 'transact'>): AppContext['transact'] {
  return (fn) =>
    inTransaction(
      ctx.db,
      async (tx, after) => {
        const pending: { workspaceId: string; audience: Audience; event: RealtimeEvent }[] = [];
        const result = await fn({
          tx,
          after,
          emit: async (workspaceId, audience, event) => {
            pending.push({ workspaceId, audience, event });
          },
        });
        for (const [workspaceId, events] of byWorkspace(pending))
          await appendEvents(tx, after, ctx.notifier, workspaceId, events, ctx.now());
        return result;
      },
      (err) => ctx.log.error({ err }, 'after-commit hook failed'),
    );
}
