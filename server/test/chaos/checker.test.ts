import type { SendRecord } from '@kefu/wechat-sim';
import { describe, expect, it } from 'vitest';
import { check, type Stored } from './checker';
import type { History, PushRecord } from './history';

/*
 * The checker must not be vacuous: a clean history passes, and each kind of violation, planted
 * in an otherwise clean one, fails exactly its property.
 */

const T0 = 1_700_000_000_000;

function push(msgId: string, text: string, startedAt: number, ackedAt?: number): PushRecord {
  return {
    openid: 'o1',
    msgId,
    text,
    startedAt,
    ...(ackedAt === undefined ? {} : { ackedAt }),
    tries: [],
  };
}

function message(id: string, seq: number, extra: Partial<Stored['messages'][number]> = {}) {
  return {
    id,
    conversation_id: 'c1',
    customer_id: 'cu1',
    seq,
    direction: 'in',
    sender: 'customer',
    body: JSON.stringify({ text: `t${id}` }),
    platform_msg_id: `m${id}`,
    client_id: null,
    delivery: null,
    error_reason: null,
    ...extra,
  };
}

function send(text: string, seq: number): SendRecord {
  return { seq, at: T0 + 5000, appId: 'wx', touser: 'o1', msgtype: 'text', text, body: {} };
}

/** Two sequential acknowledged pushes, one agent reply sent once, one open conversation. */
function clean(): { history: History; stored: Stored } {
  const history: History = {
    startedAt: T0,
    pushes: [push('m1', 't1', 0, 100), push('m2', 't2', 200, 300)],
    replies: [
      {
        clientId: 'a-1',
        agent: 'a',
        conversationId: 'c1',
        openid: 'o1',
        text: 'r1',
        at: 400,
        outcome: 'accepted',
        messageId: 'r',
        tries: [{ node: 'n1', at: 400, status: 201 }],
      },
    ],
    faults: [],
    closes: [],
    sockets: { opened: 0, resumed: 0, resync: 0 },
  };
  const stored: Stored = {
    messages: [
      message('1', 1),
      message('2', 2),
      message('r', 3, {
        direction: 'out',
        sender: 'agent',
        body: JSON.stringify({ text: 'r1' }),
        platform_msg_id: null,
        client_id: 'a-1',
        delivery: 'sent',
      }),
    ],
    conversations: [
      {
        id: 'c1',
        customer_id: 'cu1',
        state: 'active',
        created_at: T0,
        closed_at: null,
        openid: 'o1',
      },
    ],
    sends: [send('r1', 1)],
    crashes: [],
  };
  return { history, stored };
}

/** The properties that failed. */
function failing(h: History, s: Stored): string[] {
  return check(h, s)
    .filter((v) => v.failures.length > 0)
    .map((v) => v.property);
}

describe('the chaos checker', () => {
  it('passes a clean history', () => {
    const { history, stored } = clean();
    expect(failing(history, stored)).toEqual([]);
  });

  it('finds an acknowledged push that was not stored', () => {
    const { history, stored } = clean();
    stored.messages = stored.messages
      .filter((m) => m.id !== '2')
      .map((m) => ({ ...m, seq: m.id === 'r' ? 2 : m.seq }));
    expect(failing(history, stored)).toEqual(['no acknowledged push lost']);
  });

  it('finds a push stored twice', () => {
    const { history, stored } = clean();
    stored.messages.push(message('2', 4, { id: '2b' }));
    expect(failing(history, stored)).toEqual(['no push stored twice']);
  });

  it('finds a seq gap and two sequential pushes stored out of order', () => {
    const gap = clean();
    gap.stored.messages[2]!.seq = 5;
    expect(failing(gap.history, gap.stored)).toEqual([
      'per-conversation order = seq order, no gaps',
    ]);
    const swapped = clean();
    swapped.stored.messages[0]!.seq = 2;
    swapped.stored.messages[1]!.seq = 1;
    expect(failing(swapped.history, swapped.stored)).toEqual([
      'per-conversation order = seq order, no gaps',
    ]);
  });

  it('finds two open conversations of one customer, now or overlapping in the past', () => {
    const now = clean();
    now.stored.conversations.push({ ...now.stored.conversations[0]!, id: 'c2', state: 'queued' });
    expect(failing(now.history, now.stored)).toEqual([
      'at most one open conversation per customer',
    ]);
    const past = clean();
    past.stored.conversations.push({
      ...past.stored.conversations[0]!,
      id: 'c0',
      state: 'closed',
      closed_at: T0 + 60_000,
    });
    expect(failing(past.history, past.stored)).toEqual([
      'at most one open conversation per customer',
    ]);
  });

  it('finds a reply sent twice, one never settled, one lost, and a phantom send', () => {
    const twice = clean();
    twice.stored.sends.push(send('r1', 2));
    expect(failing(twice.history, twice.stored)).toEqual([
      'every accepted reply sent exactly once',
    ]);
    const pending = clean();
    pending.stored.messages[2]!.delivery = 'pending';
    expect(failing(pending.history, pending.stored)).toEqual([
      'every accepted reply sent exactly once',
    ]);
    const failedSilently = clean();
    failedSilently.stored.messages[2]!.delivery = 'failed';
    expect(failing(failedSilently.history, failedSilently.stored)).toEqual([
      'every accepted reply sent exactly once',
    ]);
    const lost = clean();
    lost.stored.messages.pop();
    lost.stored.sends = [];
    expect(failing(lost.history, lost.stored)).toEqual(['every accepted reply sent exactly once']);
    const phantom = clean();
    phantom.stored.sends.push(send('never written', 2));
    expect(failing(phantom.history, phantom.stored)).toEqual([
      'every accepted reply sent exactly once',
    ]);
  });

  it('accepts a reply that failed visibly with at most one delivery', () => {
    const { history, stored } = clean();
    stored.messages[2]!.delivery = 'failed';
    stored.messages[2]!.error_reason = 'WeChat refused: window closed (45015)';
    expect(failing(history, stored)).toEqual([]);
  });

  it('reports a node that exited on its own', () => {
    const { history, stored } = clean();
    stored.crashes.push({ node: 'n1', output: 'TypeError: boom' });
    expect(failing(history, stored)).toEqual(['no node exited on its own']);
  });
});
