import { LIMITS } from '@kefu/shared';
import { describe, expect, it } from 'vitest';
import {
  CLOSED_WINDOW,
  afterSend,
  checkSend,
  onCustomerMessage,
  onEnterSession,
  onPlatformError,
  type ReplyWindow,
} from './reply-window';

const T0 = Date.UTC(2025, 0, 1);
const HOUR = 3600_000;
const MINUTE = 60_000;

describe('reply window (§3.3)', () => {
  it('nothing may be sent before the customer acts', () => {
    expect(checkSend(CLOSED_WINDOW, T0)).toBe('WINDOW_CLOSED');
  });

  it('a customer message opens 5 replies for 48 hours', () => {
    const w = onCustomerMessage(CLOSED_WINDOW, T0);
    expect(w).toEqual({ expiresAt: T0 + 48 * HOUR, quotaLeft: 5 });
    expect(LIMITS.windowMessageQuota).toBe(5);
    expect(checkSend(w, T0 + 48 * HOUR - 1)).toBeNull();
    expect(checkSend(w, T0 + 48 * HOUR)).toBe('WINDOW_CLOSED');
  });

  it('each send uses one; the sixth is refused; the count never goes negative', () => {
    let w: ReplyWindow = onCustomerMessage(CLOSED_WINDOW, T0);
    for (let i = 0; i < 5; i++) {
      expect(checkSend(w, T0 + i)).toBeNull();
      w = afterSend(w);
    }
    expect(w.quotaLeft).toBe(0);
    expect(checkSend(w, T0 + 10)).toBe('QUOTA_EXHAUSTED');
    expect(afterSend(w).quotaLeft).toBe(0);
  });

  it('a closed window is reported before an empty quota', () => {
    expect(checkSend({ expiresAt: T0, quotaLeft: 0 }, T0 + 1)).toBe('WINDOW_CLOSED');
  });

  it('another customer message resets to 5 (not 5 + what was left) and restarts 48 h', () => {
    let w = afterSend(afterSend(onCustomerMessage(CLOSED_WINDOW, T0)));
    w = onCustomerMessage(w, T0 + HOUR);
    expect(w).toEqual({ expiresAt: T0 + HOUR + 48 * HOUR, quotaLeft: 5 });
  });

  it('entering the chat with no open window gives 2 replies for 1 minute', () => {
    const w = onEnterSession(CLOSED_WINDOW, T0);
    expect(w).toEqual({ expiresAt: T0 + MINUTE, quotaLeft: 2 });
    expect(checkSend(afterSend(afterSend(w)), T0 + 1000)).toBe('QUOTA_EXHAUSTED');
    expect(checkSend(w, T0 + MINUTE)).toBe('WINDOW_CLOSED');
    expect(onEnterSession({ expiresAt: T0 - 1, quotaLeft: 3 }, T0)).toEqual(w);
  });

  it('entering the chat inside a 48 h window keeps the larger count (at least 2) and the longer expiry', () => {
    const open = onCustomerMessage(CLOSED_WINDOW, T0);
    expect(onEnterSession(open, T0 + HOUR)).toEqual({ expiresAt: T0 + 48 * HOUR, quotaLeft: 5 });
    const spent = { expiresAt: T0 + 48 * HOUR, quotaLeft: 0 };
    expect(onEnterSession(spent, T0 + HOUR)).toEqual({ expiresAt: T0 + 48 * HOUR, quotaLeft: 2 });
  });

  it('entering the chat 30 s before the 48 h window ends extends it to 1 minute from now', () => {
    const w = onEnterSession(onCustomerMessage(CLOSED_WINDOW, T0), T0 + 48 * HOUR - 30_000);
    expect(w).toEqual({ expiresAt: T0 + 48 * HOUR + 30_000, quotaLeft: 5 });
  });

  it('a message after entering the chat gives the full 5 / 48 h', () => {
    const w = onCustomerMessage(onEnterSession(CLOSED_WINDOW, T0), T0 + 10_000);
    expect(w).toEqual({ expiresAt: T0 + 10_000 + 48 * HOUR, quotaLeft: 5 });
  });

  it('45015 closes the window, 45047 empties the quota, other codes change nothing', () => {
    const w = onCustomerMessage(CLOSED_WINDOW, T0);
    const closed = onPlatformError(w, 45015, T0 + HOUR);
    expect(closed).toEqual({ expiresAt: T0 + HOUR, quotaLeft: 0 });
    expect(checkSend(closed, T0 + HOUR)).toBe('WINDOW_CLOSED');
    const empty = onPlatformError(w, 45047, T0 + HOUR);
    expect(empty).toEqual({ expiresAt: T0 + 48 * HOUR, quotaLeft: 0 });
    expect(checkSend(empty, T0 + HOUR)).toBe('QUOTA_EXHAUSTED');
    expect(onPlatformError(w, -1, T0 + HOUR)).toEqual(w);
    expect(onCustomerMessage(closed, T0 + 2 * HOUR).quotaLeft).toBe(5);
  });

  it('never mutates its input', () => {
    const w = Object.freeze({ expiresAt: T0 + HOUR, quotaLeft: 3 });
    onCustomerMessage(w, T0);
    onEnterSession(w, T0);
    afterSend(w);
    onPlatformError(w, 45015, T0);
    expect(w).toEqual({ expiresAt: T0 + HOUR, quotaLeft: 3 });
  });
});
