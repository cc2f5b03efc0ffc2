import type { Conversation } from '@kefu/shared';
import { describe, expect, it } from 'vitest';
import { replyState } from './reply-window';
import { formatElapsed, formatRemaining, formatRemainingWords } from './time';

const NOW = 1_700_000_000_000;
function conv(
  extra: Partial<Conversation> = {},
  window?: Partial<Conversation['customer']['window']>,
): Conversation {
  return {
    id: 'c1',
    channelId: 'ch1',
    customer: {
      id: 'u1',
      channelId: 'ch1',
      openid: 'o1',
      nickname: null,
      window: { expiresAt: NOW + 3600_000, quotaLeft: 5, open: true, ...window },
    },
    state: 'active',
    agentId: 'a1',
    agentName: 'A',
    preferredAgentId: null,
    sessionFrom: null,
    queuedAt: null,
    acceptedAt: NOW,
    lastMessageAt: NOW,
    lastCustomerMessageAt: NOW,
    lastPreview: '',
    handedBackAt: null,
    closedAt: null,
    createdAt: NOW,
    ...extra,
  };
}

describe('replyState', () => {
  it('allows replying in an open window of my active conversation', () => {
    expect(replyState(conv(), 'a1', NOW)).toEqual({
      block: null,
      quotaLeft: 5,
      remainingMs: 3600_000,
      entryOnly: false,
      level: 'warn',
    });
  });
  it('names why replying is blocked', () => {
    expect(replyState(conv({ state: 'queued', agentId: null }), 'a1', NOW).block).toBe(
      'needAccept',
    );
    expect(replyState(conv({ state: 'idle' }), 'a1', NOW).block).toBe('needReaccept');
    expect(replyState(conv({ agentId: 'a2' }), 'a1', NOW).block).toBe('notMine');
    expect(replyState(conv({ state: 'closed' }), 'a1', NOW).block).toBe('closed');
    expect(replyState(conv({}, { expiresAt: null }), 'a1', NOW).block).toBe('windowNever');
    expect(replyState(conv({}, { quotaLeft: 0 }), 'a1', NOW).block).toBe('windowQuota');
  });
  it('closes by itself when the window runs out, with the right reason', () => {
    expect(replyState(conv(), 'a1', NOW + 3600_001).block).toBe('windowExpired');
    // The customer only opened the chat: it is not "48 hours without a message".
    const entry = conv({ lastCustomerMessageAt: null }, { expiresAt: NOW + 60_000, quotaLeft: 2 });
    expect(replyState(entry, 'a1', NOW)).toMatchObject({ block: null, entryOnly: true });
    expect(replyState(entry, 'a1', NOW + 60_001).block).toBe('windowEntryExpired');
    expect(replyState(conv({ state: 'handed_back', agentId: null }), 'a1', NOW).block).toBe(
      'handedBack',
    );
  });
  it('turns amber, then red, as time or replies run out', () => {
    const at = (ms: number, quota = 5) =>
      replyState(conv({}, { expiresAt: NOW + ms, quotaLeft: quota }), 'a1', NOW).level;
    expect(at(47 * 3600_000)).toBe('ok');
    expect(at(47 * 3600_000, 2)).toBe('warn');
    expect(at(47 * 3600_000, 1)).toBe('danger');
    expect(at(5 * 3600_000)).toBe('warn');
    expect(at(59 * 60_000)).toBe('danger');
  });
});

describe('time formats', () => {
  it('rounds the remaining window up to the minute, never past 48 hours', () => {
    expect(formatRemaining(47 * 3600_000 + 59 * 60_000 + 1)).toBe('48:00');
    expect(formatRemaining(48 * 3600_000 + 30_000)).toBe('48:00');
    expect(formatRemaining(30_000)).toBe('00:01');
    expect(formatRemaining(0)).toBe('00:00');
  });
  it('says the remaining window in hours and minutes', () => {
    const t = (k: string, p: Record<string, unknown> = {}) =>
      `${k}${Object.values(p).length ? `(${Object.values(p).join(',')})` : ''}`;
    expect(formatRemainingWords(47 * 3600_000 + 29 * 60_000, t)).toBe('window.hoursMinutes(47,29)');
    expect(formatRemainingWords(48 * 3600_000 + 5_000, t)).toBe('window.hours(48)');
    expect(formatRemainingWords(12 * 60_000, t)).toBe('window.minutes(12)');
    expect(formatRemainingWords(30_000, t)).toBe('window.underMinute');
    expect(formatRemainingWords(0, t)).toBe('window.none');
  });
  it('ticks waiting time in seconds', () => {
    expect(formatElapsed(83_000)).toBe('01:23');
    expect(formatElapsed(3_723_000)).toBe('1:02:03');
  });
});
