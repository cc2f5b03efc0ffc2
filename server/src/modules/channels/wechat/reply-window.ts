/**
 * The mini-program reply window (protocol §3.3), as pure arithmetic on ms epochs.
 *
 * | customer action         | quota | window |
 * | sends a message         | 5     | 48 h   |
 * | enters the chat session | 2     | 1 min  |
 *
 * Our reading of "quotas do not accumulate; each qualifying action resets the available count
 * to that action's maximum and extends the window to the longest applicable one":
 * - the count is SET (not added) to the action's quota: a message gives 5 whatever was left; an
 *   enter-session gives 2, even if 4 of a message's 5 were left;
 * - the expiry becomes the later of the current expiry and now + the action's duration: entering
 *   the chat never shortens an open 48-hour window, it only lends it a fresh count of 2.
 * (§9 of the notes sketches "max(current, (1 min, 2))", which would keep 4 in that example; §3.3
 * is the documented text, so we follow it. Either way a 45015/45047 from WeChat corrects us
 * through onPlatformError.)
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

function openFor(w: ReplyWindow, now: number, quota: number, durationMs: number): ReplyWindow {
  const candidate = now + durationMs;
  const current = w.expiresAt !== null && w.expiresAt > now ? w.expiresAt : null;
  return {
    expiresAt: current === null ? candidate : Math.max(current, candidate),
    quotaLeft: quota,
  };
}

/** The customer sent a message: 5 replies for 48 hours. */
export function onCustomerMessage(w: ReplyWindow, now: number): ReplyWindow {
  return openFor(w, now, LIMITS.windowMessageQuota, LIMITS.windowMessageMs);
}

/** The customer entered the chat (user_enter_tempsession): 2 replies, at least 1 minute. */
export function onEnterSession(w: ReplyWindow, now: number): ReplyWindow {
  return openFor(w, now, LIMITS.windowEnterQuota, LIMITS.windowEnterMs);
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
