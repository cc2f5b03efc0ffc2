import type { SendRecord } from '@kefu/wechat-sim';
import type { DbProbe } from '../db-probe';
import type { FaultRecord, History, PushRecord, ReplyRecord } from './history';

/** One property's verdict: how many cases were checked and the counterexamples found. */
export interface Verdict {
  property: string;
  checked: number;
  failures: string[];
}

interface MessageRow {
  id: string;
  conversation_id: string;
  customer_id: string;
  seq: number;
  direction: string;
  sender: string;
  body: string;
  platform_msg_id: string | null;
  client_id: string | null;
  delivery: string | null;
  error_reason: string | null;
}

interface ConversationRow {
  id: string;
  customer_id: string;
  state: string;
  created_at: string | number;
  closed_at: string | number | null;
  openid: string;
}

/** Everything the checker reads: the database (directly) and the emulator's send log. */
export interface Stored {
  messages: MessageRow[];
  conversations: ConversationRow[];
  sends: SendRecord[];
  /** Outputs of nodes that exited on their own. */
  crashes: { node: string; output: string }[];
  /** Every node's log lines (JSON, warn and above), to quote beside a counterexample. */
  logs?: string[];
}

/** Reads the whole stored history of one channel. */
export async function readStored(
  probe: DbProbe,
  channelId: string,
  sends: SendRecord[],
  crashes: Stored['crashes'],
  logs: string[] = [],
): Promise<Stored> {
  const messages = await probe.all<MessageRow>(
    `select id, conversation_id, customer_id, seq, direction, sender, body, platform_msg_id,
            client_id, delivery, error_reason
       from messages where channel_id = ? order by conversation_id, seq`,
    [channelId],
  );
  const conversations = await probe.all<ConversationRow>(
    `select c.id, c.customer_id, c.state, c.created_at, c.closed_at, cu.openid
       from conversations c join customers cu on cu.id = c.customer_id
      where c.channel_id = ? order by c.created_at, c.id`,
    [channelId],
  );
  return { messages, conversations, sends, crashes, logs };
}

/** See property 4. */
const OVERLAP_SLACK_MS = 3000;

const textOf = (body: string) => (JSON.parse(body) as { text?: string }).text ?? '';
const s = (ms: number) => `${(ms / 1000).toFixed(2)}s`;

function describeTries(p: PushRecord): string {
  return p.tries
    .map(
      (t) =>
        `${t.node}@${s(t.at)}+${t.ms}ms ${t.status || ''}${t.error ?? ''}${t.acked ? ' success' : ''}${t.concurrent ? ' (concurrent)' : ''}`,
    )
    .join(' | ');
}

/** The faults logged within 3 s of [from, to]: the context a counterexample needs. */
function faultsNear(faults: FaultRecord[], from: number, to: number): string {
  const near = faults.filter((f) => f.at >= from - 3000 && f.at <= to + 3000);
  if (near.length === 0) return 'no fault nearby';
  return near.map((f) => `${f.kind} ${f.target}@${s(f.at)}`).join(', ');
}

function pushSpan(p: PushRecord): [number, number] {
  const end = Math.max(p.startedAt, ...p.tries.map((t) => t.at + t.ms));
  return [p.startedAt, end];
}

/** Judges the history against what was stored; one verdict per property. */
export function check(history: History, stored: Stored): Verdict[] {
  const { faults } = history;
  const byMsgId = new Map<string, MessageRow[]>();
  for (const m of stored.messages) {
    if (m.platform_msg_id)
      byMsgId.set(m.platform_msg_id, [...(byMsgId.get(m.platform_msg_id) ?? []), m]);
  }
  const acked = history.pushes.filter((p) => p.ackedAt !== undefined);

  // 1. Every push answered `success` is a stored message, with its text, for its customer.
  const lost: string[] = [];
  const convOf = new Map(stored.conversations.map((c) => [c.id, c]));
  for (const p of acked) {
    const rows = byMsgId.get(p.msgId) ?? [];
    const ok = rows.some(
      (m) => textOf(m.body) === p.text && convOf.get(m.conversation_id)?.openid === p.openid,
    );
    if (!ok) {
      const [from, to] = pushSpan(p);
      lost.push(
        `MsgId ${p.msgId} (${p.openid} "${p.text}") acknowledged at ${s(p.ackedAt!)} but ${rows.length ? `stored as ${JSON.stringify(rows.map((r) => textOf(r.body)))}` : 'not stored'}; tries: ${describeTries(p)}; ${faultsNear(faults, from, to)}`,
      );
    }
  }

  // 2. One stored message per MsgId (and per pushed text, so no copy under another id).
  const dups: string[] = [];
  for (const [msgId, rows] of byMsgId) {
    if (rows.length > 1)
      dups.push(
        `MsgId ${msgId} stored ${rows.length} times: ${rows.map((r) => `${r.conversation_id}#${r.seq}`).join(', ')}`,
      );
  }
  const byText = new Map<string, MessageRow[]>();
  for (const m of stored.messages.filter((r) => r.sender === 'customer')) {
    const t = textOf(m.body);
    byText.set(t, [...(byText.get(t) ?? []), m]);
  }
  for (const [text, rows] of byText) {
    const ids = new Set(rows.map((r) => r.platform_msg_id));
    if (rows.length > 1 && ids.size > 1)
      dups.push(`text "${text}" stored ${rows.length} times under MsgIds ${[...ids].join(', ')}`);
  }

  // 3a. Each conversation's seq runs 1..n without gaps, every message its customer's.
  const order: string[] = [];
  const seqs = new Map<string, MessageRow[]>();
  for (const m of stored.messages)
    seqs.set(m.conversation_id, [...(seqs.get(m.conversation_id) ?? []), m]);
  for (const [convId, rows] of seqs) {
    const got = rows.map((r) => Number(r.seq)).sort((a, b) => a - b);
    if (got.some((v, i) => v !== i + 1))
      order.push(`conversation ${convId}: seq ${got.join(',')} (expected 1..${got.length})`);
    const foreign = rows.filter((r) => r.customer_id !== convOf.get(convId)?.customer_id);
    if (foreign.length)
      order.push(`conversation ${convId} holds ${foreign.length} message(s) of another customer`);
  }
  // 3b. For one customer, an acknowledged push sent before the next one started is stored first.
  const position = new Map<string, number>();
  const convRank = new Map(stored.conversations.map((c, i) => [c.id, i]));
  for (const m of stored.messages) {
    if (m.platform_msg_id)
      position.set(m.platform_msg_id, convRank.get(m.conversation_id)! * 1e6 + Number(m.seq));
  }
  const perCustomer = new Map<string, PushRecord[]>();
  for (const p of acked) perCustomer.set(p.openid, [...(perCustomer.get(p.openid) ?? []), p]);
  let orderedPairs = 0;
  for (const pushes of perCustomer.values()) {
    for (const a of pushes) {
      for (const b of pushes) {
        if (a === b || a.ackedAt! > b.startedAt) continue;
        const pa = position.get(a.msgId);
        const pb = position.get(b.msgId);
        if (pa === undefined || pb === undefined) continue; // lost: property 1 reports it
        orderedPairs += 1;
        if (pa > pb)
          order.push(
            `${a.openid}: "${a.text}" (acked ${s(a.ackedAt!)}) stored after "${b.text}" (sent ${s(b.startedAt)})`,
          );
      }
    }
  }

  // 4. At most one open conversation per customer, now and at any time (lifetimes never overlap).
  const open: string[] = [];
  const convsOf = new Map<string, ConversationRow[]>();
  for (const c of stored.conversations)
    convsOf.set(c.customer_id, [...(convsOf.get(c.customer_id) ?? []), c]);
  for (const convs of convsOf.values()) {
    const live = convs.filter((c) => c.state !== 'closed');
    if (live.length > 1)
      open.push(
        `${live[0]!.openid}: ${live.length} open now (${live.map((c) => `${c.id} ${c.state}`).join(', ')})`,
      );
    for (let i = 0; i < convs.length; i++) {
      for (let j = i + 1; j < convs.length; j++) {
        const a = convs[i]!;
        const b = convs[j]!;
        const end = (c: ConversationRow) => (c.closed_at == null ? Infinity : Number(c.closed_at));
        const overlap =
          Math.min(end(a), end(b)) - Math.max(Number(a.created_at), Number(b.created_at));
        // Timestamps are taken before locks are waited for, so a push racing a close can stamp
        // its new conversation a little before the old one's close: only a real overlap counts.
        if (overlap > OVERLAP_SLACK_MS && (a.state === 'closed' || b.state === 'closed'))
          open.push(
            `${a.openid}: conversations ${a.id} and ${b.id} were open together for ${overlap} ms`,
          );
      }
    }
  }

  // 5. Each agent reply: accepted ones stored; sent once, or failed visibly with at most one send.
  const replies: string[] = [];
  const sendsByText = new Map<string, SendRecord[]>();
  for (const r of stored.sends)
    if (r.text) sendsByText.set(r.text, [...(sendsByText.get(r.text) ?? []), r]);
  const outByClient = new Map(
    stored.messages.filter((m) => m.client_id).map((m) => [m.client_id!, m]),
  );
  const replyOf = new Map(history.replies.map((r) => [r.clientId, r]));
  /** What the nodes logged about one message: the `msg` of each line naming its id. */
  const logged = (messageId: string) => {
    const lines = (stored.logs ?? []).filter((l) => l.includes(messageId));
    const msgs = lines.map((l) => /"msg":"([^"]*)"/.exec(l)?.[1] ?? l.slice(0, 160));
    return msgs.length ? `; nodes logged: ${msgs.slice(0, 4).join(' / ')}` : '';
  };
  const tell = (r: ReplyRecord | undefined) =>
    r
      ? `; posted ${s(r.at)} (${r.tries.map((t) => `${t.status}${t.code ? ` ${t.code}` : ''}${t.error ? ` ${t.error}` : ''}`).join(' | ')}); ${faultsNear(faults, r.at, r.at + 10_000)}`
      : '';
  for (const r of history.replies.filter((x) => x.outcome === 'accepted')) {
    if (!outByClient.has(r.clientId))
      replies.push(`${r.clientId} accepted (201, message ${r.messageId}) but not stored${tell(r)}`);
  }
  const outs = [...outByClient.values()];
  for (const m of outs) {
    const text = textOf(m.body);
    const got = sendsByText.get(text) ?? [];
    const when = got.map((g) => s(g.at - history.startedAt)).join(', ');
    const r = replyOf.get(m.client_id!);
    if (m.delivery === 'sent' && got.length !== 1)
      replies.push(
        `${m.client_id} "${text}": delivery sent, ${got.length} deliveries${when ? ` (at ${when})` : ''}${tell(r)}${logged(m.id)}`,
      );
    else if (m.delivery === 'failed' && (got.length > 1 || !m.error_reason))
      replies.push(
        `${m.client_id}: failed (${m.error_reason ?? 'no reason'}) with ${got.length} deliveries${tell(r)}${logged(m.id)}`,
      );
    else if (m.delivery !== 'sent' && m.delivery !== 'failed')
      replies.push(
        `${m.client_id}: still ${m.delivery} after quiescence, ${got.length} deliveries${tell(r)}${logged(m.id)}`,
      );
  }
  const storedTexts = new Set(outs.map((m) => textOf(m.body)));
  for (const [text, got] of sendsByText) {
    if (!storedTexts.has(text))
      replies.push(`the emulator got "${text}" ${got.length}× but no such reply is stored`);
  }

  return [
    { property: 'no acknowledged push lost', checked: acked.length, failures: lost },
    { property: 'no push stored twice', checked: byMsgId.size, failures: dups },
    {
      property: 'per-conversation order = seq order, no gaps',
      checked: seqs.size + orderedPairs,
      failures: order,
    },
    {
      property: 'at most one open conversation per customer',
      checked: convsOf.size,
      failures: open,
    },
    { property: 'every accepted reply sent exactly once', checked: outs.length, failures: replies },
    {
      property: 'no node exited on its own',
      checked: history.faults.filter((f) => f.kind === 'restart').length + stored.crashes.length,
      failures: stored.crashes.map((c) => `${c.node} exited:\n${c.output.slice(-1500)}`),
    },
  ];
}

/** The verdict as printed: one PASS/FAIL line per property, then its counterexamples. */
export function formatVerdicts(verdicts: Verdict[], maxExamples = 5): string {
  const lines: string[] = [];
  for (const v of verdicts) {
    const ok = v.failures.length === 0;
    lines.push(
      `  ${ok ? 'PASS' : 'FAIL'}  ${v.property} (${v.checked} checked${ok ? '' : `, ${v.failures.length} counterexample(s)`})`,
    );
    for (const f of v.failures.slice(0, maxExamples)) lines.push(`        - ${f}`);
    if (v.failures.length > maxExamples)
      lines.push(`        … and ${v.failures.length - maxExamples} more`);
  }
  return lines.join('\n');
}
