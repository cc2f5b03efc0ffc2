import type { WindowState } from './types';

export interface WindowGrant {
  quota: number;
  ms: number;
}

/** A customer message: 5 replies for 48 hours (§3.3). */
export const MESSAGE_GRANT: WindowGrant = { quota: 5, ms: 48 * 3600_000 };
/** Entering the session (user_enter_tempsession): 2 replies for 1 minute (§3.3). */
export const ENTER_GRANT: WindowGrant = { quota: 2, ms: 60_000 };

export function isWindowOpen(w: WindowState | undefined, now: number): w is WindowState {
  return w !== undefined && now < w.expiresAt;
}

/**
 * Applies a qualifying customer action. Grants do not accumulate: the count becomes the larger
 * of what is left and the action's maximum, the window the longer of the two (§3.3, §9.5).
 */
export function applyGrant(
  current: WindowState | undefined,
  grant: WindowGrant,
  now: number,
): WindowState {
  const fresh = { expiresAt: now + grant.ms, quota: grant.quota };
  if (!isWindowOpen(current, now)) return fresh;
  return {
    expiresAt: Math.max(current.expiresAt, fresh.expiresAt),
    quota: Math.max(current.quota, fresh.quota),
  };
}
