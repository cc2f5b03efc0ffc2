import {
  encryptMessage,
  randomNonce,
  sha1Signature,
  toJson,
  toXml,
  type PushRequest,
  type PushResult,
} from '@kefu/wechat-sim';
import type { ApiClient } from './api-client';
import { waitFor, type Stack } from './harness';

type Fields = Record<string, string | number>;

let serial = 0;

/** A fresh 17-digit MsgId as a digit string (real ones are above 2^53). */
export function newMsgId(): string {
  serial += 1;
  return (30_000_000_000_000_000n + BigInt(Date.now()) * 1000n + BigInt(serial % 1000)).toString();
}

function simApp(s: Stack) {
  const app = s.sim.getApp(s.channel.appId);
  if (!app) throw new Error('the stack’s app is not in the emulator');
  return app;
}

/** A customer's text push as WeChat sends it, with a fresh MsgId unless `extra` sets one. */
export function textFields(s: Stack, openid: string, content: string, extra: Fields = {}): Fields {
  return {
    ToUserName: simApp(s).originalId,
    FromUserName: openid,
    CreateTime: Math.floor(s.clock.now() / 1000),
    MsgType: 'text',
    Content: content,
    MsgId: newMsgId(),
    ...extra,
  };
}

/** The `user_enter_tempsession` event a contact button sends. */
export function enterFields(s: Stack, openid: string, createTime: number, from: string): Fields {
  return {
    ToUserName: simApp(s).originalId,
    FromUserName: openid,
    CreateTime: createTime,
    MsgType: 'event',
    Event: 'user_enter_tempsession',
    SessionFrom: from,
  };
}

/** A correctly signed, encrypted push (safe mode) around any plaintext, for any AppID. */
export function sealedPush(s: Stack, plaintext: string, appId = s.channel.appId): PushRequest {
  const app = simApp(s);
  const timestamp = String(Math.floor(s.clock.now() / 1000));
  const nonce = randomNonce();
  const encrypt = encryptMessage(app.encodingAesKey, appId, plaintext);
  const query = {
    signature: sha1Signature(app.token, timestamp, nonce),
    timestamp,
    nonce,
    encrypt_type: 'aes',
    msg_signature: sha1Signature(app.token, timestamp, nonce, encrypt),
  };
  const outer = { ToUserName: app.originalId, Encrypt: encrypt };
  return {
    url: `${app.pushUrl ?? ''}?${new URLSearchParams(query).toString()}`,
    query,
    body: app.format === 'xml' ? toXml(outer) : toJson(outer),
    contentType: app.format === 'xml' ? 'text/xml' : 'application/json',
  };
}

/** The same push with some query parameters replaced and not re-signed (a forgery). */
export function withQuery(push: PushRequest, changes: Record<string, string>): PushRequest {
  const query = { ...push.query, ...changes };
  const url = new URL(push.url);
  url.search = new URLSearchParams(query).toString();
  return { ...push, url: url.toString(), query };
}

/** The same push addressed to another channel id. */
export function withChannel(push: PushRequest, channelId: string): PushRequest {
  const url = new URL(push.url);
  url.pathname = `/wechat/${encodeURIComponent(channelId)}`;
  return { ...push, url: url.toString() };
}

/** Flips one character of the body's Encrypt value, leaving the signatures as they were. */
export function tamperEncrypt(push: PushRequest): PushRequest {
  const m = /("Encrypt":"|<Encrypt><!\[CDATA\[)([A-Za-z0-9+/=]+)/.exec(push.body);
  if (!m?.[2]) throw new Error('no Encrypt in the push body');
  const enc = m[2];
  const flipped = enc.slice(0, 10) + (enc[10] === 'A' ? 'B' : 'A') + enc.slice(11);
  return { ...push, body: push.body.replace(enc, flipped) };
}

/** The error code of a refused push. */
export function codeOf(res: PushResult): string | undefined {
  try {
    return (JSON.parse(res.body) as { code?: string }).code;
  } catch {
    return undefined;
  }
}

/** Counts of every row kind the push endpoint writes for the stack's channel. */
export async function storedRows(s: Stack) {
  const db = s.app.kefu.ctx.db;
  const id = s.channel.id;
  const n = (row: { n: unknown } | undefined) => Number(row?.n ?? 0);
  const count = db.fn.countAll<number>().as('n');
  return {
    inboundKeys: n(
      await db
        .selectFrom('inboundKeys')
        .select(count)
        .where('channelId', '=', id)
        .executeTakeFirst(),
    ),
    customers: n(
      await db.selectFrom('customers').select(count).where('channelId', '=', id).executeTakeFirst(),
    ),
    conversations: n(
      await db
        .selectFrom('conversations')
        .select(count)
        .where('channelId', '=', id)
        .executeTakeFirst(),
    ),
    messages: n(
      await db.selectFrom('messages').select(count).where('channelId', '=', id).executeTakeFirst(),
    ),
  };
}

/** The stored customer texts of one openid on the stack's channel, oldest first. */
export async function customerTexts(s: Stack, openid: string): Promise<string[]> {
  const rows = await s.app.kefu.ctx.db
    .selectFrom('messages')
    .innerJoin('customers', 'customers.id', 'messages.customerId')
    .select(['messages.body', 'messages.kind'])
    .where('customers.channelId', '=', s.channel.id)
    .where('customers.openid', '=', openid)
    .where('messages.sender', '=', 'customer')
    .orderBy('messages.createdAt')
    .orderBy('messages.seq')
    .execute();
  return rows.map((r) => (JSON.parse(r.body) as { text?: string }).text ?? `[${r.kind}]`);
}

/** Whether the push endpoint ever stored this openid for the stack's channel. */
export async function hasCustomer(s: Stack, openid: string): Promise<boolean> {
  const row = await s.app.kefu.ctx.db
    .selectFrom('customers')
    .select('id')
    .where('channelId', '=', s.channel.id)
    .where('openid', '=', openid)
    .executeTakeFirst();
  return row !== undefined;
}

/** Waits until `openid`'s conversation is in the agent's queue. */
export async function queuedFor(
  agent: ApiClient,
  openid: string,
  timeoutMs = 15_000,
): Promise<{ id: string }> {
  return waitFor(
    async () =>
      (
        await agent.get<{ items: { id: string; customer: { openid: string } }[] }>(
          '/api/conversations?state=queued',
        )
      ).items.find((c) => c.customer.openid === openid),
    timeoutMs,
    `queued ${openid}`,
  );
}

/** A customer writes `first`; the agent accepts and replies `text`; resolves with the reply. */
export async function acceptAndReply(
  s: Stack,
  agent: ApiClient,
  openid: string,
  text: string,
  opts: { first?: string; timeoutMs?: number } = {},
): Promise<{ conversationId: string; messageId: string }> {
  const pushed = await s.sim.sendText(s.channel.appId, openid, opts.first ?? '你好');
  if (!pushed.acknowledged) throw new Error(`push for ${openid} not acknowledged`);
  const conv = await queuedFor(agent, openid, opts.timeoutMs);
  await agent.post(`/api/conversations/${conv.id}/accept`);
  const msg = await agent.post<{ id: string }>(`/api/conversations/${conv.id}/messages`, {
    clientId: `c-${openid}`,
    kind: 'text',
    text,
  });
  return { conversationId: conv.id, messageId: msg.id };
}
