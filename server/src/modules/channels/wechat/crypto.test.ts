import { describe, expect, it } from 'vitest';
import {
  buildEncryptedReply,
  decryptPayload,
  encryptPayload,
  isValidEncodingAesKey,
  sha1Signature,
  verifySignature,
} from './crypto';

// The worked examples of the official message-push page (protocol §1.2–1.5).
const TOKEN = 'AAAAA';
const AES_KEY = 'A'.repeat(43);
const APP_ID = 'wxba5fad812f8e6fb9';
const DOC_ENCRYPT =
  '+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04=';
const DOC_MSG =
  '{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}';
const REPLY_ENCRYPT =
  'ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ==';

function appErrorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('signatures (official vectors)', () => {
  it('GET URL check: token, timestamp, nonce', () => {
    expect(sha1Signature(TOKEN, '1714036504', '1514711492')).toBe(
      'f464b24fc39322e44b38aa78f5edd27bd1441696',
    );
    expect(
      verifySignature(
        'f464b24fc39322e44b38aa78f5edd27bd1441696',
        TOKEN,
        '1714036504',
        '1514711492',
      ),
    ).toBe(true);
  });

  it('plaintext-mode POST signature', () => {
    expect(sha1Signature(TOKEN, '1714037059', '486452656')).toBe(
      '899cf89e464efb63f54ddac96b0a0a235f53aa78',
    );
  });

  it('safe-mode URL signature (3 parts) and msg_signature (4 parts, over Encrypt)', () => {
    expect(sha1Signature(TOKEN, '1714112445', '415670741')).toBe(
      '6c5c811b55cc85e0e1b54100749188c20beb3f5d',
    );
    expect(sha1Signature(TOKEN, '1714112445', '415670741', DOC_ENCRYPT)).toBe(
      '046e02f8204d34f8ba5fa3b1db94908f3df2e9b3',
    );
  });

  it('sorts without mutating the arguments and rejects wrong, empty or missing signatures', () => {
    const parts = ['b', 'a'];
    expect(sha1Signature(...parts)).toBe(sha1Signature('a', 'b'));
    expect(parts).toEqual(['b', 'a']);
    expect(
      verifySignature(
        'f464b24fc39322e44b38aa78f5edd27bd1441697',
        TOKEN,
        '1714036504',
        '1514711492',
      ),
    ).toBe(false);
    expect(verifySignature('', TOKEN, '1714036504', '1514711492')).toBe(false);
    expect(verifySignature(undefined, TOKEN, '1714036504', '1514711492')).toBe(false);
    expect(verifySignature('abc', TOKEN, '1714036504', '1514711492')).toBe(false);
    expect(
      verifySignature(
        'F464B24FC39322E44B38AA78F5EDD27BD1441696',
        TOKEN,
        '1714036504',
        '1514711492',
      ),
    ).toBe(true);
  });
});

describe('AES payloads (official vectors)', () => {
  it("decrypts the doc's Encrypt to the documented debug_demo event", () => {
    expect(Buffer.from(DOC_ENCRYPT, 'base64')).toHaveLength(224);
    expect(decryptPayload(AES_KEY, DOC_ENCRYPT, APP_ID)).toBe(DOC_MSG);
  });

  it("re-encrypting with the doc's random gives the doc's Encrypt byte for byte", () => {
    expect(encryptPayload(AES_KEY, DOC_MSG, APP_ID, Buffer.from('a8eedb185eb2fecf'))).toBe(
      DOC_ENCRYPT,
    );
  });

  it('encrypts the reply vector exactly (63-byte FullStr, 64-byte ciphertext)', () => {
    const encrypt = encryptPayload(
      AES_KEY,
      '{"demo_resp":"good luck"}',
      APP_ID,
      Buffer.from('707722b803182950'),
    );
    expect(encrypt).toBe(REPLY_ENCRYPT);
    expect(Buffer.from(encrypt, 'base64')).toHaveLength(64);
  });

  it('round-trips UTF-8 and every padding length 1..32', () => {
    for (let n = 0; n < 40; n++) {
      const msg = `<xml>你好${'x'.repeat(n)}</xml>`;
      expect(decryptPayload(AES_KEY, encryptPayload(AES_KEY, msg, APP_ID), APP_ID)).toBe(msg);
    }
  });

  it('rejects another AppID with WECHAT_APPID_MISMATCH', () => {
    expect(appErrorCode(() => decryptPayload(AES_KEY, DOC_ENCRYPT, 'wx0000000000000000'))).toBe(
      'WECHAT_APPID_MISMATCH',
    );
  });

  it('rejects garbage, a wrong key and a bad key with WECHAT_BAD_PAYLOAD', () => {
    const otherKey = 'B'.repeat(43);
    for (const [key, enc] of [
      [AES_KEY, 'not base64!'],
      [AES_KEY, ''],
      [AES_KEY, Buffer.alloc(16, 1).toString('base64')],
      [AES_KEY, Buffer.alloc(64, 7).toString('base64')],
      [otherKey, DOC_ENCRYPT],
      ['short', DOC_ENCRYPT],
    ] as const) {
      expect(appErrorCode(() => decryptPayload(key, enc, APP_ID))).toBe('WECHAT_BAD_PAYLOAD');
    }
  });

  it('validates EncodingAESKeys', () => {
    expect(isValidEncodingAesKey(AES_KEY)).toBe(true);
    expect(isValidEncodingAesKey('A'.repeat(42))).toBe(false);
    expect(isValidEncodingAesKey(`${'A'.repeat(42)}+`)).toBe(false);
    expect(() => encryptPayload('bad', 'x', APP_ID)).toThrow();
  });
});

describe('buildEncryptedReply (official reply vector)', () => {
  const input = {
    token: TOKEN,
    encodingAesKey: AES_KEY,
    appId: APP_ID,
    msg: '{"demo_resp":"good luck"}',
    nonce: '415670741',
    timestamp: 1713424427,
    random16: Buffer.from('707722b803182950'),
  };

  it('JSON envelope', () => {
    const body = buildEncryptedReply({ ...input, format: 'json' });
    expect(JSON.parse(body)).toEqual({
      Encrypt: REPLY_ENCRYPT,
      MsgSignature: '1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1',
      TimeStamp: 1713424427,
      Nonce: '415670741',
    });
    expect(body).toBe(
      `{"Encrypt":"${REPLY_ENCRYPT}","MsgSignature":"1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1","TimeStamp":1713424427,"Nonce":"415670741"}`,
    );
  });

  it('XML envelope', () => {
    expect(buildEncryptedReply({ ...input, format: 'xml' })).toBe(
      `<xml><Encrypt><![CDATA[${REPLY_ENCRYPT}]]></Encrypt>` +
        '<MsgSignature><![CDATA[1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1]]></MsgSignature>' +
        '<TimeStamp>1713424427</TimeStamp><Nonce><![CDATA[415670741]]></Nonce></xml>',
    );
  });

  it('defaults the timestamp to now and random bytes to fresh ones', () => {
    const { random16: _r, timestamp: _t, ...rest } = input;
    const a = JSON.parse(buildEncryptedReply({ ...rest, format: 'json' }));
    const b = JSON.parse(buildEncryptedReply({ ...rest, format: 'json' }));
    expect(a.Encrypt).not.toBe(b.Encrypt);
    expect(Math.abs(a.TimeStamp - Date.now() / 1000)).toBeLessThan(5);
    expect(a.MsgSignature).toBe(sha1Signature(TOKEN, String(a.TimeStamp), a.Nonce, a.Encrypt));
    expect(decryptPayload(AES_KEY, a.Encrypt, APP_ID)).toBe(input.msg);
  });
});
