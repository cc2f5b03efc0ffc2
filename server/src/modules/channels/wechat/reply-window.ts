/**
 * The mini-program reply window (protocol §3.3), as pure arithmetic on ms epochs.
 *
 * | customer action         | quota | window |
 * | sends a message         | 5     | 48 h   |
 * | enters the chat session | 2     | 1 min  |
 *
 * Our reading of "quotas do not accumulate; each qualifying action resets the available count
 * to that action's maximum and extends the window to the longest applicable one":
 * - the expiry becomes the later of the current expiry and now + the action's duration;
 * - a customer message sets the count to 5; entering the chat never takes replies away from an
 *   open window: the count becomes the larger of what is left and 2 (§9's max(current, (1 min, 2))).
 * The emulator reads it the same way. Where WeChat is stricter, its 45047 corrects us through
 * onPlatformError and the message shows as failed with that reason, rather than Kefu refusing
 * replies WeChat would have accepted.
 */
import { LIMITS } from '@kefu/shared';

export interface ReplyWindow {
  /** ms epoch after which no reply is allowed; null when no window was ever opened. */
  expiresAt: number | null;
  /** Replies still allowed inside the window. */
  quotaLeft: number;
}

export type WindowRefusal = 'WINDOW_CLOSED' | 'QUOTA_EXHAUSTED';

/** A window that allows nothing (a customer who never wrote). */
export const CLOSED_WINDOW: ReplyWindow = { expiresAt: null, quotaLeft: 0 };

function openFor(
  w: ReplyWindow,
  now: number,
  quota: number,
  durationMs: number,
  keepLarger: boolean,
): ReplyWindow {
  const candidate = now + durationMs;
  const current = w.expiresAt !== null && w.expiresAt > now ? w.expiresAt : null;
  return {
    expiresAt: current === null ? candidate : Math.max(current, candidate),
    quotaLeft: keepLarger && current !== null ? Math.max(w.quotaLeft, quota) : quota,
  };
}

/** The customer sent a message: 5 replies for 48 hours. */
export function onCustomerMessage(w: ReplyWindow, now: number): ReplyWindow {
  return openFor(w, now, LIMITS.windowMessageQuota, LIMITS.windowMessageMs, false);
}

/** The customer entered the chat (user_enter_tempsession): 2 replies, at least 1 minute. */
export function onEnterSession(w: ReplyWindow, now: number): ReplyWindow {
  return openFor(w, now, LIMITS.windowEnterQuota, LIMITS.windowEnterMs, true);
}

/** Why a reply may not be sent now, or null when it may. */
export function checkSend(w: ReplyWindow, now: number): WindowRefusal | null {
  if (w.expiresAt === null || now >= w.expiresAt) return 'WINDOW_CLOSED';
  if (w.quotaLeft <= 0) return 'QUOTA_EXHAUSTED';
  return null;
}

/** A reply was delivered: one fewer left (never below 0). */
export function afterSend(w: ReplyWindow): ReplyWindow {
  return { expiresAt: w.expiresAt, quotaLeft: Math.max(0, w.quotaLeft - 1) };
}

/** WeChat refused a send: 45015 closes the window now, 45047 empties the quota. */
export function onPlatformError(w: ReplyWindow, errcode: number, now: number): ReplyWindow {
  if (errcode === 45015) return { expiresAt: now, quotaLeft: 0 };
  if (errcode === 45047) return { expiresAt: w.expiresAt, quotaLeft: 0 };
  return w;
}
