/** Builds signed (and, when asked, encrypted) WeChat pushes for the receiver's tests. */
import { encryptPayload, sha1Signature } from '../crypto';
import type { PushChannel, PushInput, PushMode } from '../inbound';

export const TOKEN = 'AAAAA';
export const AES_KEY = 'A'.repeat(43);
export const APP_ID = 'wxba5fad812f8e6fb9';
/** The original id (gh_…) of the official examples' mini program. */
export const ORIGINAL_ID = 'gh_97417a04a28d';
export const TIMESTAMP = '1714112445';
export const NONCE = '415670741';

export function channelFor(
  mode: PushMode,
  format: 'xml' | 'json' = 'xml',
  overrides: Partial<PushChannel> = {},
): PushChannel {
  return {
    appId: APP_ID,
    originalId: ORIGINAL_ID,
    token: TOKEN,
    encodingAesKey: AES_KEY,
    mode,
    format,
    ...overrides,
  };
}

export type Fields = Record<string, string | number>;

/** XML as WeChat writes it: strings in CDATA, numbers bare. */
export function toXml(fields: Fields): string {
  const inner = Object.entries(fields)
    .map(([k, v]) =>
      typeof v === 'number' ? `<${k}>${v}</${k}>` : `<${k}><![CDATA[${v}]]></${k}>`,
    )
    .join('');
  return `<xml>${inner}</xml>`;
}

/** JSON as WeChat writes it; `MsgId` given as a digit string is written as a bare number. */
export function toJson(fields: Fields): string {
  const { MsgId, ...rest } = fields;
  const json = JSON.stringify(rest);
  if (MsgId === undefined) return json;
  const id = typeof MsgId === 'string' && /^\d+$/.test(MsgId) ? MsgId : JSON.stringify(MsgId);
  return `${json.slice(0, -1)}${json.length > 2 ? ',' : ''}"MsgId":${id}}`;
}

export function serialize(fields: Fields, format: 'xml' | 'json'): string {
  return format === 'xml' ? toXml(fields) : toJson(fields);
}

export interface BuildOptions {
  format?: 'xml' | 'json';
  /** Encrypt with this AppID instead of the channel's. */
  encryptAppId?: string;
  /** Compatible mode: plaintext fields beside Encrypt (defaults to the same fields). */
  plainFields?: Fields;
}

/** A plaintext-mode POST signed with `signature`. */
export function plaintextPush(
  channel: PushChannel,
  fields: Fields,
  format = channel.format,
): PushInput {
  return {
    method: 'POST',
    query: {
      signature: sha1Signature(TOKEN, TIMESTAMP, NONCE),
      timestamp: TIMESTAMP,
      nonce: NONCE,
    },
    rawBody: serialize(fields, format),
    channel,
  };
}

/** A safe-mode (envelope only) or compatible-mode (plaintext + Encrypt) POST. */
export function encryptedPush(
  channel: PushChannel,
  fields: Fields,
  options: BuildOptions = {},
): PushInput {
  const format = options.format ?? channel.format;
  const encrypt = encryptPayload(
    AES_KEY,
    serialize(fields, format),
    options.encryptAppId ?? APP_ID,
  );
  const outer: Fields =
    channel.mode === 'compatible'
      ? { ...(options.plainFields ?? fields), Encrypt: encrypt }
      : { ToUserName: String(fields.ToUserName ?? ORIGINAL_ID), Encrypt: encrypt };
  return {
    method: 'POST',
    query: {
      signature: sha1Signature(TOKEN, TIMESTAMP, NONCE),
      timestamp: TIMESTAMP,
      nonce: NONCE,
      openid: String(fields.FromUserName ?? ''),
      encrypt_type: 'aes',
      msg_signature: sha1Signature(TOKEN, TIMESTAMP, NONCE, encrypt),
    },
    rawBody: serialize(outer, format),
    channel,
  };
}

/** Runs fn and returns the AppError code it threw (undefined when it did not throw). */
export function thrownCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code ?? 'NOT_AN_APP_ERROR';
  }
  return undefined;
}

/** Encrypts an arbitrary inner body for the test channel. */
export function encryptPayloadFor(msg: string, appId = APP_ID): string {
  return encryptPayload(AES_KEY, msg, appId);
}

/** The msg_signature WeChat would send for this Encrypt value. */
export function msgSignatureFor(encrypt: string): string {
  return sha1Signature(TOKEN, TIMESTAMP, NONCE, encrypt);
}
