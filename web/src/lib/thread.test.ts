import type { Message } from '@kefu/shared';
import { describe, expect, it } from 'vitest';
import { mergeMessages, upsertMessage } from './thread';

function msg(seq: number, extra: Partial<Message> = {}): Message {
  return {
    id: `m${seq}`,
    conversationId: 'c1',
    customerId: 'u1',
    seq,
    direction: 'in',
    sender: 'customer',
    agentId: null,
    kind: 'text',
    body: { text: `#${seq}` },
    mediaId: null,
    clientId: null,
    delivery: null,
    errorCode: null,
    errorReason: null,
    createdAt: seq * 1000,
    sentAt: null,
    ...extra,
  };
}
const seqs = (items: Message[]) => items.map((m) => m.seq);

describe('upsertMessage', () => {
  it('inserts in seq order and replaces by id', () => {
    let items = upsertMessage([], msg(2));
    items = upsertMessage(items, msg(1));
    items = upsertMessage(items, msg(3));
    items = upsertMessage(items, msg(2, { body: { text: 'edited' } }));
    expect(seqs(items)).toEqual([1, 2, 3]);
    expect(items[1]?.body.text).toBe('edited');
  });

  it('replaces a local placeholder by the server message with the same clientId', () => {
    const local = msg(Number.POSITIVE_INFINITY, { id: 'local:x', clientId: 'x', direction: 'out' });
    let items = upsertMessage([msg(1)], local);
    items = upsertMessage(items, msg(2));
    expect(items.map((m) => m.id)).toEqual(['m1', 'm2', 'local:x']);
    items = upsertMessage(items, msg(3, { clientId: 'x', direction: 'out', delivery: 'pending' }));
    expect(items.map((m) => m.id)).toEqual(['m1', 'm2', 'm3']);
  });
});

describe('mergeMessages', () => {
  it('prepends an older page without duplicates', () => {
    const items = [msg(3), msg(4)];
    expect(seqs(mergeMessages(items, [msg(1), msg(2), msg(3)]))).toEqual([1, 2, 3, 4]);
  });

  it('does not turn a delivered message back into pending', () => {
    const sent = msg(5, { clientId: 'a', direction: 'out', delivery: 'sent' });
    const stale = msg(5, { clientId: 'a', direction: 'out', delivery: 'pending' });
    expect(mergeMessages([sent], [stale])[0]?.delivery).toBe('sent');
  });
});
