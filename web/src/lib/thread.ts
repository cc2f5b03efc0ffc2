import type { Message } from '@kefu/shared';

/** One identity per message: outgoing ones by clientId (so a placeholder meets its reply). */
export function messageKey(m: Message): string {
  return m.clientId ? `c:${m.clientId}` : `i:${m.id}`;
}

/** First index whose seq is greater than `seq` (placeholders carry +Infinity and stay last). */
function upperBound(items: readonly Message[], seq: number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((items[mid] as Message).seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function findIndex(items: readonly Message[], m: Message): number {
  if (m.clientId) {
    for (let i = items.length - 1; i >= 0; i--) if (items[i]?.clientId === m.clientId) return i;
    return -1;
  }
  const end = upperBound(items, m.seq);
  for (let i = end - 1; i >= 0 && (items[i] as Message).seq === m.seq; i--) {
    if (items[i]?.id === m.id) return i;
  }
  return -1;
}

/** Insert or replace one message; returns a new array sorted by seq. */
export function upsertMessage(items: readonly Message[], m: Message): Message[] {
  const next = items.slice();
  const i = findIndex(next, m);
  if (i >= 0) {
    if (next[i]?.seq === m.seq) {
      next[i] = m;
      return next;
    }
    next.splice(i, 1);
  }
  next.splice(upperBound(next, m.seq), 0, m);
  return next;
}

const settled = (m: Message) => m.delivery === 'sent' || m.delivery === 'failed';

/** Merge a fetched page into a thread: dedupe by identity, prefer server copies, sort by seq. */
export function mergeMessages(items: readonly Message[], page: readonly Message[]): Message[] {
  const byKey = new Map<string, Message>();
  for (const m of items) byKey.set(messageKey(m), m);
  for (const m of page) {
    const key = messageKey(m);
    const old = byKey.get(key);
    // A page fetched before a delivery update must not turn "sent" back into "pending".
    if (old && old.id === m.id && settled(old) && m.delivery === 'pending') continue;
    byKey.set(key, m);
  }
  return [...byKey.values()].sort((a, b) => a.seq - b.seq);
}
