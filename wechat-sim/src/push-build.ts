import { encryptMessage, randomNonce, sha1Signature } from './crypto';
import type { AppConfig, PushRequest } from './types';

/** A push message: WeChat field names mapped to strings or numbers, in wire order. */
export type PushMessage = Record<string, string | number>;

export interface PushBuildOptions {
  /** Unix seconds as a string; default: the caller's clock. */
  timestamp: string;
  nonce?: string;
  /** The 16 random bytes that open the encrypted plaintext (fixed only in tests). */
  random?: Buffer;
}

/** buildPush's optional overrides; the timestamp defaults to the sim clock. */
export type PushBuildOverrides = Partial<PushBuildOptions>;

/**
 * Numbers go on the wire bare: CreateTime, and MsgId, an int64 above 2^53 that we keep as a
 * digit string and never pass through a JS number.
 */
function isBare(key: string, value: string | number): boolean {
  return typeof value === 'number' || (key === 'MsgId' && /^\d+$/.test(value));
}

function cdata(value: string): string {
  return `<![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}

/** `<xml>` with string values in CDATA and numbers bare, like WeChat's pushes. */
export function toXml(message: PushMessage): string {
  const inner = Object.entries(message)
    .map(([k, v]) => `<${k}>${isBare(k, v) ? String(v) : cdata(String(v))}</${k}>`)
    .join('');
  return `<xml>${inner}</xml>`;
}

/** JSON written field by field so MsgId stays an exact bare number literal. */
export function toJson(message: PushMessage): string {
  const inner = Object.entries(message)
    .map(([k, v]) => `${JSON.stringify(k)}:${isBare(k, v) ? String(v) : JSON.stringify(v)}`)
    .join(',');
  return `{${inner}}`;
}

function checkMessage(message: object): PushMessage {
  for (const [k, v] of Object.entries(message)) {
    if (typeof v !== 'string' && typeof v !== 'number') {
      throw new TypeError(`push field ${k} must be a string or a number`);
    }
  }
  return message as PushMessage;
}

/**
 * Serializes and signs a push the way WeChat does for the app's mode and format (§1.3–1.5):
 * plaintext → signature/timestamp/nonce; safe → also openid, encrypt_type=aes, msg_signature and
 * a {ToUserName, Encrypt} body; compatible → the same query, plaintext fields plus Encrypt.
 */
export function buildPushRequest(
  app: AppConfig,
  message: object,
  opts: PushBuildOptions,
): PushRequest {
  const msg = checkMessage(message);
  const serialize = app.format === 'xml' ? toXml : toJson;
  const { timestamp } = opts;
  const nonce = opts.nonce ?? randomNonce();
  const query: Record<string, string> = {
    signature: sha1Signature(app.token, timestamp, nonce),
    timestamp,
    nonce,
  };
  let body = serialize(msg);
  if (app.mode !== 'plaintext') {
    const sealedFor = app.encryptAppId ?? app.appId;
    const encrypt = encryptMessage(app.encodingAesKey, sealedFor, body, opts.random);
    query.openid = String(msg.FromUserName ?? '');
    query.encrypt_type = 'aes';
    query.msg_signature = sha1Signature(app.token, timestamp, nonce, encrypt);
    const outer: PushMessage =
      app.mode === 'safe'
        ? { ToUserName: String(msg.ToUserName ?? app.originalId), Encrypt: encrypt }
        : { ...msg, Encrypt: encrypt };
    body = serialize(outer);
  }
  const base = app.pushUrl ?? '';
  const sep = base.includes('?') ? '&' : '?';
  return {
    url: `${base}${sep}${new URLSearchParams(query).toString()}`,
    query,
    body,
    contentType: app.format === 'xml' ? 'text/xml' : 'application/json',
  };
}
