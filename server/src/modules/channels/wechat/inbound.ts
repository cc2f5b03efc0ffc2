/**
 * The push receiver's pure half (protocol §1): verify the signature, decrypt, parse and
 * normalise one WeChat push into a platform-neutral InboundMessage. No storage, no I/O.
 */
import { AppError } from '../../../errors';
import { decryptPayload, verifySignature } from './crypto';
import { parsePushBody, type PushFields } from './payload-parse';

export type PushMode = 'plaintext' | 'compatible' | 'safe';
export type PushFormat = 'xml' | 'json';

/** What the receiver needs to know about the channel the push was addressed to. */
export interface PushChannel {
  appId: string;
  /** The original id gh_…; a push's ToUserName must be it (or the AppID). */
  originalId: string;
  token: string;
  encodingAesKey: string | null;
  mode: PushMode;
  /** The configured format; informational only, since bodies are sniffed (`<` vs `{`). */
  format: PushFormat;
}

export interface PushInput {
  method: 'GET' | 'POST';
  query: Record<string, string | undefined>;
  rawBody: string;
  channel: PushChannel;
  /**
   * Optional replay bound: refuse a push whose `timestamp` is further than `maxAgeSeconds` from
   * `nowSeconds`. Off unless the operator sets KEFU_PUSH_MAX_AGE_SECONDS.
   */
  freshness?: { nowSeconds: number; maxAgeSeconds: number };
}

export type InboundMessageType =
  'text' | 'image' | 'miniprogrampage' | 'enter_session' | 'unsupported';

export interface InboundCard {
  title: string;
  appId: string;
  pagePath: string;
  thumbUrl: string;
  thumbMediaId: string;
}

export interface InboundMessage {
  /** The customer (FromUserName). */
  openid: string;
  /** The mini program's original id gh_… (or its AppID, for some senders). */
  toUserName: string;
  /** Unix seconds, as pushed. */
  createTime: number;
  /** MsgId for messages; `${FromUserName}|${CreateTime}|${Event}` for events. */
  dedupeKey: string;
  /** MsgId as an opaque string, or null for events. */
  platformMsgId: string | null;
  type: InboundMessageType;
  /** text: Content. */
  text?: string;
  /** image: MediaId (fetch it with media/get within 3 days). */
  mediaId?: string;
  /** image: PicUrl. */
  picUrl?: string;
  /** miniprogrampage: the card. */
  card?: InboundCard;
  /** enter_session: the contact button's session-from, when present. */
  sessionFrom?: string;
  /** MsgType, or `event:<Event>` for events (e.g. `event:debug_demo`); for logs. */
  rawType: string;
}

export type PushResult =
  { kind: 'verify'; echostr: string } | { kind: 'message'; message: InboundMessage };

/**
 * Handles one push request. GET is the URL check (answer `echostr` as the whole body); POST
 * yields the message (answer `success` once it is stored, also for `unsupported` ones).
 * Throws AppError WECHAT_BAD_SIGNATURE, WECHAT_STALE_PUSH, WECHAT_BAD_PAYLOAD,
 * WECHAT_APPID_MISMATCH or WECHAT_WRONG_RECIPIENT.
 */
export function parsePush(input: PushInput): PushResult {
  const { query, channel } = input;
  const timestamp = query.timestamp ?? '';
  const nonce = query.nonce ?? '';
  // WeChat sends the token/timestamp/nonce `signature` in every mode, and on the URL check
  // (§1.2, §1.3). Checking it before anything else means that nobody without the Token can
  // make Kefu read, parse or decrypt a single byte of the body.
  requireSignature(query.signature, channel.token, timestamp, nonce);
  requireFresh(input.freshness, timestamp);
  if (input.method === 'GET') {
    // The URL check is the same in every mode; echostr is not signed and not encrypted.
    const echostr = query.echostr;
    if (echostr === undefined) throw badPayload('GET without echostr');
    return { kind: 'verify', echostr };
  }
  const message = normalizeFields(readPostFields(input, timestamp, nonce));
  const to = message.toUserName;
  // A Token shared by two accounts (or leaked) must not let one account's pushes land in another.
  if (to !== channel.originalId && to !== channel.appId) {
    throw new AppError('WECHAT_WRONG_RECIPIENT', undefined, { toUserName: to.slice(0, 64) });
  }
  return { kind: 'message', message };
}

function readPostFields(input: PushInput, timestamp: string, nonce: string): PushFields {
  const { query, channel, rawBody } = input;
  const key = channel.encodingAesKey;
  const encrypted =
    channel.mode === 'safe' ||
    (channel.mode === 'compatible' && key !== null) ||
    query.encrypt_type === 'aes' ||
    query.msg_signature !== undefined;
  // Plaintext: the signature covers only token/timestamp/nonce (WeChat's design); it was checked.
  if (!encrypted) return parsePushBody(rawBody);
  if (!key) {
    if (channel.mode === 'safe') throw badPayload('safe mode without an EncodingAESKey');
    // A plaintext channel without a key can read only a compatible body's plaintext half.
    return parsePushBody(rawBody);
  }
  // The envelope must be read to find Encrypt, which msg_signature covers. In compatible mode
  // only the encrypted half is trusted: the plaintext half is covered by no signature at all,
  // so a push without Encrypt could be forged by anyone who saw one signed URL.
  const encrypt = parsePushBody(rawBody).Encrypt;
  if (encrypt === undefined || encrypt === '') {
    throw badPayload(
      `${channel.mode === 'plaintext' ? 'an aes' : channel.mode} push without Encrypt`,
    );
  }
  requireSignature(query.msg_signature, channel.token, timestamp, nonce, encrypt);
  return parsePushBody(decryptPayload(key, encrypt, channel.appId));
}

function requireFresh(freshness: PushInput['freshness'], timestamp: string): void {
  if (!freshness || freshness.maxAgeSeconds <= 0) return;
  const at = /^\d{1,12}$/.test(timestamp) ? Number(timestamp) : NaN;
  if (!(Math.abs(freshness.nowSeconds - at) <= freshness.maxAgeSeconds)) {
    throw new AppError('WECHAT_STALE_PUSH', undefined, { maxAgeSeconds: freshness.maxAgeSeconds });
  }
}

function requireSignature(expected: string | undefined, ...parts: string[]): void {
  if (!verifySignature(expected, ...parts)) throw new AppError('WECHAT_BAD_SIGNATURE');
}

function badPayload(why: string): AppError {
  return new AppError('WECHAT_BAD_PAYLOAD', undefined, { reason: why });
}

function required(fields: PushFields, name: string): string {
  const value = fields[name];
  if (value === undefined || value === '') throw badPayload(`missing ${name}`);
  return value;
}

/** Maps WeChat's field names to the platform-neutral message (protocol §1.6). */
function normalizeFields(fields: PushFields): InboundMessage {
  const openid = required(fields, 'FromUserName');
  const msgType = required(fields, 'MsgType');
  const createTimeText = required(fields, 'CreateTime').trim();
  if (!/^\d{1,12}$/.test(createTimeText)) throw badPayload('CreateTime is not an integer');
  const createTime = Number(createTimeText);
  const msgId = fields.MsgId ?? fields.MsgID ?? fields.msgid;
  const platformMsgId = msgId !== undefined && msgId !== '' ? msgId : null;
  const event = fields.Event ?? '';
  const base = {
    openid,
    toUserName: fields.ToUserName ?? '',
    createTime,
    dedupeKey: platformMsgId ?? `${openid}|${createTimeText}|${event || msgType}`,
    platformMsgId,
    rawType: msgType === 'event' ? `event:${event}` : msgType,
  };
  switch (msgType) {
    case 'text':
      return { ...base, type: 'text', text: fields.Content ?? '' };
    case 'image':
      return {
        ...base,
        type: 'image',
        mediaId: fields.MediaId ?? '',
        ...(fields.PicUrl ? { picUrl: fields.PicUrl } : {}),
      };
    case 'miniprogrampage':
      return {
        ...base,
        type: 'miniprogrampage',
        card: {
          title: fields.Title ?? '',
          appId: fields.AppId ?? '',
          pagePath: fields.PagePath ?? '',
          thumbUrl: fields.ThumbUrl ?? '',
          thumbMediaId: fields.ThumbMediaId ?? '',
        },
      };
    case 'event':
      if (event === 'user_enter_tempsession') {
        const sessionFrom = fields.SessionFrom;
        return {
          ...base,
          type: 'enter_session',
          ...(sessionFrom !== undefined ? { sessionFrom } : {}),
        };
      }
      return { ...base, type: 'unsupported' };
    default:
      return { ...base, type: 'unsupported' };
  }
}
