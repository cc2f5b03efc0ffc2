import { createCipheriv, createDecipheriv, createHash, randomBytes, randomInt } from 'node:crypto';

/** WeChat pads to a 32-byte block (not AES's 16), so pad values run 1..32. */
const PAD_BLOCK = 32;

/** sha1 hex of the given strings sorted lexicographically and joined with no separator. */
export function sha1Signature(...parts: string[]): string {
  const joined = [...parts].sort().join('');
  return createHash('sha1').update(joined, 'utf8').digest('hex');
}

/** The 32-byte AES key: Base64_Decode(EncodingAESKey + "="). */
export function aesKeyOf(encodingAesKey: string): Buffer {
  if (!/^[a-zA-Z0-9]{43}$/.test(encodingAesKey)) {
    throw new Error('EncodingAESKey must be 43 characters of [a-zA-Z0-9]');
  }
  const key = Buffer.from(`${encodingAesKey}=`, 'base64');
  if (key.length !== 32) throw new Error(`EncodingAESKey decodes to ${key.length} bytes, not 32`);
  return key;
}

/** PKCS#7 with K = 32: always appends 1..32 bytes, each equal to the count. */
export function pkcs7Pad32(data: Buffer): Buffer {
  const n = PAD_BLOCK - (data.length % PAD_BLOCK);
  return Buffer.concat([data, Buffer.alloc(n, n)]);
}

/** Strips PKCS#7 padding with values 1..32 (a 16-byte unpadder would reject 17..32). */
export function pkcs7Unpad32(data: Buffer): Buffer {
  const n = data[data.length - 1];
  if (n === undefined || n < 1 || n > PAD_BLOCK || n > data.length) {
    throw new Error('bad PKCS#7 padding');
  }
  for (let i = data.length - n; i < data.length; i++) {
    if (data[i] !== n) throw new Error('bad PKCS#7 padding');
  }
  return data.subarray(0, data.length - n);
}

/** Encrypts msg for the wire: base64(AES-256-CBC(random16 ‖ len32be ‖ msg ‖ appid)), IV = key[0:16]. */
export function encryptMessage(
  encodingAesKey: string,
  appId: string,
  msg: string,
  random: Buffer = randomBytes(16),
): string {
  if (random.length !== 16) throw new Error('random prefix must be 16 bytes');
  const key = aesKeyOf(encodingAesKey);
  const body = Buffer.from(msg, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length, 0);
  const full = pkcs7Pad32(Buffer.concat([random, len, body, Buffer.from(appId, 'utf8')]));
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(full), cipher.final()]).toString('base64');
}

export interface Decrypted {
  random: Buffer;
  msg: string;
  appId: string;
}

/** Decrypts a wire Encrypt value; throws on bad padding or length. Callers check appId. */
export function decryptMessage(encodingAesKey: string, encrypt: string): Decrypted {
  const key = aesKeyOf(encodingAesKey);
  const data = Buffer.from(encrypt, 'base64');
  if (data.length === 0 || data.length % 16 !== 0) throw new Error('bad ciphertext length');
  const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
  decipher.setAutoPadding(false);
  const full = pkcs7Unpad32(Buffer.concat([decipher.update(data), decipher.final()]));
  if (full.length < 20) throw new Error('plaintext too short');
  const msgLen = full.readUInt32BE(16);
  if (20 + msgLen > full.length) throw new Error('message length out of range');
  return {
    random: full.subarray(0, 16),
    msg: full.subarray(20, 20 + msgLen).toString('utf8'),
    appId: full.subarray(20 + msgLen).toString('utf8'),
  };
}

/** A numeric nonce like the ones WeChat puts in push URLs. */
export function randomNonce(): string {
  return String(randomInt(100_000_000, 2_147_483_647));
}

/** Random [a-zA-Z0-9] string (tokens, EncodingAESKeys, openids). */
export function randomAlnum(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}
