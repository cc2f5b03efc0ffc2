import type { Conversation } from '@kefu/shared';

export type ReplyBlock =
  | 'closed'
  | 'notMine'
  | 'needAccept'
  | 'needReaccept'
  | 'windowNever'
  | 'windowExpired'
  | 'windowEntryExpired'
  | 'windowQuota'
  | 'handedBack';

/** How close the window is to running out: green, amber, then red. */
export type WindowLevel = 'ok' | 'warn' | 'danger';

export interface ReplyState {
  /** Why the agent cannot reply now (an i18n key under `composer.`), or null. */
  block: ReplyBlock | null;
  quotaLeft: number;
  remainingMs: number;
  /** The window comes from entering the chat only (1 minute, 2 replies): the customer never wrote. */
  entryOnly: boolean;
  level: WindowLevel;
}

/** Amber under 6 hours or 2 replies left, red under 1 hour or 1 reply (or 20 s of an entry window). */
export function windowLevel(
  remainingMs: number,
  quotaLeft: number,
  entryOnly: boolean,
): WindowLevel {
  if (remainingMs <= 0 || quotaLeft <= 1 || remainingMs < (entryOnly ? 20_000 : 3600_000))
    return 'danger';
  if (entryOnly || quotaLeft <= 2 || remainingMs < 6 * 3600_000) return 'warn';
  return 'ok';
}

/**
 * Can this agent reply now, and if not why: the conversation's state first, then the platform's
 * reply window (48 h / 5 messages after a customer message). The window is re-checked against
 * the local clock so the composer closes by itself when time runs out.
 */
export function replyState(conv: Conversation, meId: string | undefined, now: number): ReplyState {
  const w = conv.customer.window;
  const remainingMs = w.expiresAt === null ? 0 : Math.max(0, w.expiresAt - now);
  const entryOnly = conv.lastCustomerMessageAt === null;
  const base = {
    quotaLeft: w.quotaLeft,
    remainingMs,
    entryOnly,
    level: windowLevel(remainingMs, w.quotaLeft, entryOnly),
  };
  if (conv.state === 'closed') return { ...base, block: 'closed' };
  if (conv.state === 'handed_back') return { ...base, block: 'handedBack' };
  if (conv.state === 'queued') return { ...base, block: 'needAccept' };
  if (conv.agentId !== meId) return { ...base, block: 'notMine' };
  if (conv.state === 'idle') return { ...base, block: 'needReaccept' };
  if (w.expiresAt === null) return { ...base, block: 'windowNever' };
  const expired = entryOnly ? 'windowEntryExpired' : 'windowExpired';
  if (remainingMs <= 0) return { ...base, block: expired };
  if (w.quotaLeft <= 0) return { ...base, block: 'windowQuota' };
  if (!w.open) return { ...base, block: expired };
  return { ...base, block: null };
}
