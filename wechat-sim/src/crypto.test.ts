import { describe, expect, it } from 'vitest';
import { decryptMessage, encryptMessage, pkcs7Pad32, pkcs7Unpad32, sha1Signature } from './crypto';
import { buildPushRequest, toJson, toXml } from './push-build';
import { DOC_APP, OPENID } from '../test/helpers';

// Official worked examples, wechat-protocol.md §1.2–1.5.
const AES = 'A'.repeat(43);
const OFFICIAL_ENCRYPT =
  '+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04=';
const DEBUG_MSG =
  '{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}';

describe('signatures (§1.2, §1.3)', () => {
  it('matches the GET URL-verification vector', () => {
    expect(sha1Signature('AAAAA', '1714036504', '1514711492')).toBe(
      'f464b24fc39322e44b38aa78f5edd27bd1441696',
    );
  });

  it('matches the plaintext POST vector', () => {
    expect(sha1Signature('AAAAA', '1714037059', '486452656')).toBe(
      '899cf89e464efb63f54ddac96b0a0a235f53aa78',
    );
  });

  it('matches the safe-mode signature and msg_signature', () => {
    expect(sha1Signature('AAAAA', '1714112445', '415670741')).toBe(
      '6c5c811b55cc85e0e1b54100749188c20beb3f5d',
    );
    expect(sha1Signature('AAAAA', '1714112445', '415670741', OFFICIAL_ENCRYPT)).toBe(
      '046e02f8204d34f8ba5fa3b1db94908f3df2e9b3',
    );
  });
});

describe('AES (§1.4, §1.5)', () => {
  it('decrypts the official safe-mode Encrypt', () => {
    expect(Buffer.from(OFFICIAL_ENCRYPT, 'base64')).toHaveLength(224);
    const d = decryptMessage(AES, OFFICIAL_ENCRYPT);
    expect(d.random.toString('latin1')).toBe('a8eedb185eb2fecf');
    expect(Buffer.byteLength(d.msg)).toBe(167);
    expect(d.msg).toBe(DEBUG_MSG);
    expect(d.appId).toBe('wxba5fad812f8e6fb9');
  });

  it('re-encrypts it byte for byte with the same random prefix', () => {
    const random = Buffer.from('a8eedb185eb2fecf', 'latin1');
    expect(encryptMessage(AES, 'wxba5fad812f8e6fb9', DEBUG_MSG, random)).toBe(OFFICIAL_ENCRYPT);
  });

  it('reproduces the encrypted reply vector', () => {
    const random = Buffer.from('707722b803182950', 'latin1');
    const encrypt = encryptMessage(AES, 'wxba5fad812f8e6fb9', '{"demo_resp":"good luck"}', random);
    expect(encrypt).toBe(
      'ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ==',
    );
    expect(Buffer.from(encrypt, 'base64')).toHaveLength(64);
    expect(sha1Signature('AAAAA', '1713424427', '415670741', encrypt)).toBe(
      '1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1',
    );
    expect(decryptMessage(AES, encrypt).msg).toBe('{"demo_resp":"good luck"}');
  });

  it('pads to 32-byte blocks with values 1..32 and rejects bad padding', () => {
    expect(pkcs7Pad32(Buffer.alloc(31))).toHaveLength(32);
    expect(pkcs7Pad32(Buffer.alloc(32))).toHaveLength(64);
    expect(pkcs7Pad32(Buffer.alloc(32))[63]).toBe(32);
    expect(pkcs7Unpad32(pkcs7Pad32(Buffer.from('abc')))).toEqual(Buffer.from('abc'));
    expect(() => pkcs7Unpad32(Buffer.alloc(32, 0))).toThrow();
    expect(() => pkcs7Unpad32(Buffer.alloc(64, 33))).toThrow();
    expect(() => pkcs7Unpad32(Buffer.from([1, 2, 3, 3, 2]))).toThrow();
  });

  it('round-trips multi-byte UTF-8 and rejects malformed keys', () => {
    const enc = encryptMessage(AES, 'wx1', '你好，客服 👋');
    expect(decryptMessage(AES, enc)).toMatchObject({ msg: '你好，客服 👋', appId: 'wx1' });
    expect(() => encryptMessage('short', 'wx1', 'x')).toThrow(/43/);
  });
});

describe('push building', () => {
  const debugMessage = {
    ToUserName: 'gh_97417a04a28d',
    FromUserName: OPENID,
    CreateTime: 1714112445,
    MsgType: 'event',
    Event: 'debug_demo',
    debug_str: 'hello world',
  };

  it('builds the official safe-mode push exactly', () => {
    const push = buildPushRequest(
      { ...DOC_APP, pushUrl: 'https://www.qq.com/recive' },
      debugMessage,
      { timestamp: '1714112445', nonce: '415670741', random: Buffer.from('a8eedb185eb2fecf') },
    );
    expect(push.url).toBe(
      'https://www.qq.com/recive?signature=6c5c811b55cc85e0e1b54100749188c20beb3f5d&timestamp=1714112445&nonce=415670741&openid=o9AgO5Kd5ggOC-bXrbNODIiE3bGY&encrypt_type=aes&msg_signature=046e02f8204d34f8ba5fa3b1db94908f3df2e9b3',
    );
    expect(JSON.parse(push.body)).toEqual({
      ToUserName: 'gh_97417a04a28d',
      Encrypt: OFFICIAL_ENCRYPT,
    });
    expect(push.contentType).toBe('application/json');
  });

  it('builds the official plaintext push exactly', () => {
    const push = buildPushRequest(
      { ...DOC_APP, mode: 'plaintext', pushUrl: 'https://www.qq.com/revice' },
      { ...debugMessage, CreateTime: 1714037059 },
      { timestamp: '1714037059', nonce: '486452656' },
    );
    expect(push.query).toEqual({
      signature: '899cf89e464efb63f54ddac96b0a0a235f53aa78',
      timestamp: '1714037059',
      nonce: '486452656',
    });
    expect(push.body).toBe(DEBUG_MSG.replace('1714112445', '1714037059'));
  });

  it('writes MsgId as an exact bare number in JSON and bare in XML', () => {
    const msg = {
      ToUserName: 'gh_x',
      CreateTime: 1,
      Content: 'a"b]]>c',
      MsgId: '24591658213948176',
    };
    expect(toJson(msg)).toBe(
      '{"ToUserName":"gh_x","CreateTime":1,"Content":"a\\"b]]>c","MsgId":24591658213948176}',
    );
    expect(toXml(msg)).toBe(
      '<xml><ToUserName><![CDATA[gh_x]]></ToUserName><CreateTime>1</CreateTime>' +
        '<Content><![CDATA[a"b]]]]><![CDATA[>c]]></Content><MsgId>24591658213948176</MsgId></xml>',
    );
  });
});
