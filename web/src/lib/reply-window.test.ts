import type { Conversation } from '@kefu/shared';
import { describe, expect, it } from 'vitest';
import { replyState } from './reply-window';
import { formatElapsed, formatRemaining } from './time';

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
  it('closes by itself when the window runs out', () => {
    expect(replyState(conv(), 'a1', NOW + 3600_001).block).toBe('windowExpired');
  });
});

describe('time formats', () => {
  it('rounds the remaining window up to the minute', () => {
    expect(formatRemaining(47 * 3600_000 + 59 * 60_000 + 1)).toBe('48:00');
    expect(formatRemaining(30_000)).toBe('00:01');
    expect(formatRemaining(0)).toBe('00:00');
  });
  it('ticks waiting time in seconds', () => {
    expect(formatElapsed(83_000)).toBe('01:23');
    expect(formatElapsed(3_723_000)).toBe('1:02:03');
  });
});
