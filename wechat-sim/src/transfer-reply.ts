import { XMLParser } from 'fast-xml-parser';
import { decryptMessage, sha1Signature } from './crypto';
import type { AppConfig } from './types';

/**
 * WeChat's reading of a push answer that is not `success` (§1.7, §2): a
 * `transfer_customer_service` packet hands the customer to WeChat's own web tool. In safe mode
 * the packet must come in the encrypted envelope (§1.5), signed with the app's token; the
 * packet's To/From are the customer and the mini program, swapped from the push; all four
 * fields are required. Anything else that is not `success`/empty is malformed.
 */
export type TransferReading =
  | { kind: 'none' }
  | { kind: 'transfer'; kfAccount?: string }
  | { kind: 'malformed'; reason: string };

const xml = new XMLParser({ processEntities: false, parseTagValue: false });

function parsePacket(text: string): Record<string, unknown> | null {
  const t = text.trim();
  try {
    if (t.startsWith('{')) return JSON.parse(t) as Record<string, unknown>;
    if (t.startsWith('<')) {
      const doc = xml.parse(t) as { xml?: Record<string, unknown> };
      return doc.xml ?? null;
    }
  } catch {
    return null;
  }
  return null;
}

const str = (v: unknown): string =>
  typeof v === 'string' || typeof v === 'number' ? String(v) : '';

/** Opens the §1.5 envelope: checks MsgSignature over (token, TimeStamp, Nonce, Encrypt). */
function openEnvelope(app: AppConfig, env: Record<string, unknown>): string | { error: string } {
  const encrypt = str(env['Encrypt']);
  const signature = str(env['MsgSignature']);
  const timestamp = str(env['TimeStamp']);
  const nonce = str(env['Nonce']);
  if (!encrypt || !signature || !timestamp || !nonce)
    return { error: 'encrypted reply lacks Encrypt/MsgSignature/TimeStamp/Nonce' };
  if (sha1Signature(app.token, timestamp, nonce, encrypt) !== signature)
    return { error: 'reply MsgSignature does not match' };
  try {
    const opened = decryptMessage(app.encodingAesKey, encrypt);
    if (opened.appId !== app.appId) return { error: 'reply encrypted for another AppID' };
    return opened.msg;
  } catch (err) {
    return { error: `reply does not decrypt: ${(err as Error).message}` };
  }
}

/** How WeChat takes the answer `body` to a push from `openid` to `app`. */
export function readPushAnswer(app: AppConfig, openid: string, body: string): TransferReading {
  if (body === '' || body === 'success') return { kind: 'none' };
  let packet = parsePacket(body);
  if (!packet) return { kind: 'malformed', reason: 'answer is neither success nor a packet' };
  if (app.mode === 'safe') {
    if (packet['Encrypt'] === undefined)
      return { kind: 'malformed', reason: 'safe mode needs an encrypted reply' };
    const opened = openEnvelope(app, packet);
    if (typeof opened !== 'string') return { kind: 'malformed', reason: opened.error };
    packet = parsePacket(opened);
    if (!packet) return { kind: 'malformed', reason: 'decrypted reply is not a packet' };
  }
  if (str(packet['MsgType']) !== 'transfer_customer_service')
    return { kind: 'malformed', reason: `unexpected MsgType ${str(packet['MsgType'])}` };
  if (str(packet['ToUserName']) !== openid)
    return { kind: 'malformed', reason: 'ToUserName must be the customer (To/From swapped)' };
  if (str(packet['FromUserName']) !== app.originalId)
    return { kind: 'malformed', reason: 'FromUserName must be the mini program original id' };
  if (!/^\d+$/.test(str(packet['CreateTime'])))
    return { kind: 'malformed', reason: 'CreateTime is required' };
  const trans = packet['TransInfo'] as Record<string, unknown> | undefined;
  const kfAccount = trans ? str(trans['KfAccount']) : '';
  return kfAccount ? { kind: 'transfer', kfAccount } : { kind: 'transfer' };
}
