/**
 * WeChat push signatures and the AES message scheme (protocol §1.2–1.5): AES-256-CBC with
 * key = Base64(EncodingAESKey + '='), IV = key[0:16], PKCS#7 padded to a 32-byte block, over
 * random(16) ‖ uint32be(msg length) ‖ msg ‖ appid.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { AppError } from '../../../errors';

/** WeChat pads to the key size (32), not the AES block size (16). */
const PAD_BLOCK = 32;
const RANDOM_BYTES = 16;
const LENGTH_BYTES = 4;
const ENCODING_AES_KEY = /^[A-Za-z0-9]{43}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** sha1 hex (lowercase) of the parts sorted lexicographically and joined with no separator. */
export function sha1Signature(...parts: string[]): string {
  return createHash('sha1')
    .update([...parts].sort().join(''))
    .digest('hex');
}

/** True when `expected` equals sha1Signature(...parts); compared in constant time. */
export function verifySignature(expected: string | undefined | null, ...parts: string[]): boolean {
  if (typeof expected !== 'string' || expected.length === 0) return false;
  const actual = Buffer.from(sha1Signature(...parts), 'utf8');
  const given = Buffer.from(expected.toLowerCase(), 'utf8');
  return given.length === actual.length && timingSafeEqual(given, actual);
}

/** True when the string is a usable EncodingAESKey (43 characters of [A-Za-z0-9]). */
export function isValidEncodingAesKey(encodingAesKey: string): boolean {
  return ENCODING_AES_KEY.test(encodingAesKey);
}

function aesKey(encodingAesKey: string): Buffer | null {
  if (!isValidEncodingAesKey(encodingAesKey)) return null;
  const key = Buffer.from(`${encodingAesKey}=`, 'base64');
  return key.length === 32 ? key : null;
}

function badPayload(why: string): AppError {
  return new AppError('WECHAT_BAD_PAYLOAD', undefined, { reason: why });
}

/**
 * Decrypts a push's `Encrypt` field and returns the inner message (XML or JSON text).
 * Throws AppError WECHAT_APPID_MISMATCH when the trailing appid is not `expectedAppId`, and
 * WECHAT_BAD_PAYLOAD for anything that does not decrypt to the documented layout (including an
 * unusable EncodingAESKey).
 */
export function decryptPayload(
  encodingAesKey: string,
  encryptB64: string,
  expectedAppId: string,
): string {
  const key = aesKey(encodingAesKey);
  if (!key) throw badPayload('EncodingAESKey is not 43 characters of [A-Za-z0-9]');
  const b64 = encryptB64.trim();
  if (b64.length % 4 !== 0 || !BASE64.test(b64)) throw badPayload('Encrypt is not base64');
  const cipherText = Buffer.from(b64, 'base64');
  if (cipherText.length === 0 || cipherText.length % PAD_BLOCK !== 0) {
    throw badPayload('ciphertext length is not a multiple of 32');
  }
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
    decipher.setAutoPadding(false);
    plain = Buffer.concat([decipher.update(cipherText), decipher.final()]);
  } catch {
    throw badPayload('AES decryption failed');
  }
  const unpadded = unpad(plain);
  if (!unpadded || unpadded.length < RANDOM_BYTES + LENGTH_BYTES) {
    throw badPayload('bad padding');
  }
  const msgLength = unpadded.readUInt32BE(RANDOM_BYTES);
  const msgStart = RANDOM_BYTES + LENGTH_BYTES;
  if (msgStart + msgLength > unpadded.length) throw badPayload('message length out of range');
  let msg: string;
  let appId: string;
  try {
    msg = utf8.decode(unpadded.subarray(msgStart, msgStart + msgLength));
    appId = utf8.decode(unpadded.subarray(msgStart + msgLength));
  } catch {
    throw badPayload('message is not UTF-8');
  }
  if (appId !== expectedAppId) {
    throw new AppError('WECHAT_APPID_MISMATCH', undefined, { appId });
  }
  return msg;
}

/** PKCS#7 with a 32-byte block: the pad value is 1..32 and every pad byte equals it. */
function unpad(buf: Buffer): Buffer | null {
  const pad = buf[buf.length - 1];
  if (pad === undefined || pad < 1 || pad > PAD_BLOCK || pad > buf.length) return null;
  for (let i = buf.length - pad; i < buf.length; i++) {
    if (buf[i] !== pad) return null;
  }
  return buf.subarray(0, buf.length - pad);
}

/**
 * Encrypts `msg` for `appId` and returns the base64 `Encrypt` value. `random16` fixes the
 * 16 leading random bytes (tests and worked examples); by default they come from randomBytes.
 */
export function encryptPayload(
  encodingAesKey: string,
  msg: string,
  appId: string,
  random16: Buffer = randomBytes(RANDOM_BYTES),
): string {
  const key = aesKey(encodingAesKey);
  if (!key) {
    throw new AppError('VALIDATION_FAILED', 'EncodingAESKey must be 43 characters of [A-Za-z0-9]');
  }
  if (random16.length !== RANDOM_BYTES) throw new RangeError('random16 must be 16 bytes');
  const body = Buffer.from(msg, 'utf8');
  const length = Buffer.alloc(LENGTH_BYTES);
  length.writeUInt32BE(body.length);
  const full = Buffer.concat([random16, length, body, Buffer.from(appId, 'utf8')]);
  const pad = PAD_BLOCK - (full.length % PAD_BLOCK);
  const padded = Buffer.concat([full, Buffer.alloc(pad, pad)]);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(padded), cipher.final()]).toString('base64');
}

export interface EncryptedReplyInput {
  token: string;
  encodingAesKey: string;
  appId: string;
  /** The plaintext reply body (XML or JSON text), e.g. a transfer_customer_service packet. */
  msg: string;
  format: 'xml' | 'json';
  /** Echo the request's nonce (the doc's advice). */
  nonce: string;
  /** Unix seconds; defaults to the current time. */
  timestamp?: number;
  random16?: Buffer;
}

/**
 * Builds the encrypted reply envelope of §1.5 in the given format. `success` and empty replies
 * need no envelope: send those as they are.
 */
export function buildEncryptedReply(input: EncryptedReplyInput): string {
  const encrypt = encryptPayload(input.encodingAesKey, input.msg, input.appId, input.random16);
  const timestamp = input.timestamp ?? Math.floor(Date.now() / 1000);
  const signature = sha1Signature(input.token, String(timestamp), input.nonce, encrypt);
  if (input.format === 'json') {
    return JSON.stringify({
      Encrypt: encrypt,
      MsgSignature: signature,
      TimeStamp: timestamp,
      Nonce: input.nonce,
    });
  }
  return (
    `<xml><Encrypt><![CDATA[${encrypt}]]></Encrypt>` +
    `<MsgSignature><![CDATA[${signature}]]></MsgSignature>` +
    `<TimeStamp>${timestamp}</TimeStamp>` +
    `<Nonce><![CDATA[${cdataSafe(input.nonce)}]]></Nonce></xml>`
  );
}

/** A nonce comes from the request query; keep it from closing the CDATA section. */
function cdataSafe(text: string): string {
  return text.replaceAll(']]>', ']]]]><![CDATA[>');
}
