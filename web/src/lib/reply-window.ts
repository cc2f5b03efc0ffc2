import type { Conversation } from '@kefu/shared';

export type ReplyBlock =
  | 'closed'
  | 'notMine'
  | 'needAccept'
  | 'needReaccept'
  | 'windowNever'
  | 'windowExpired'
  | 'windowQuota';

export interface ReplyState {
  /** Why the agent cannot reply now (an i18n key under `composer.`), or null. */
  block: ReplyBlock | null;
  quotaLeft: number;
  remainingMs: number;
}

/**
 * Can this agent reply now, and if not why: the conversation's state first, then the platform's
 * reply window (48 h / 5 messages after a customer message). The window is re-checked against
 * the local clock so the composer closes by itself when time runs out.
 */
export function replyState(conv: Conversation, meId: string | undefined, now: number): ReplyState {
  const w = conv.customer.window;
  const remainingMs = w.expiresAt === null ? 0 : Math.max(0, w.expiresAt - now);
  const base = { quotaLeft: w.quotaLeft, remainingMs };
  if (conv.state === 'closed') return { ...base, block: 'closed' };
  if (conv.state === 'queued') return { ...base, block: 'needAccept' };
  if (conv.agentId !== meId) return { ...base, block: 'notMine' };
  if (conv.state === 'idle') return { ...base, block: 'needReaccept' };
  if (w.expiresAt === null) return { ...base, block: 'windowNever' };
  if (remainingMs <= 0) return { ...base, block: 'windowExpired' };
  if (w.quotaLeft <= 0) return { ...base, block: 'windowQuota' };
  if (!w.open) return { ...base, block: 'windowExpired' };
  return { ...base, block: null };
}
