import { describe, expect, it } from 'vitest';
import { sha1Signature } from './crypto';
import { parsePush, type PushInput } from './inbound';
import {
  APP_ID,
  NONCE,
  TIMESTAMP,
  TOKEN,
  channelFor,
  encryptedPush,
  plaintextPush,
  thrownCode,
  toXml,
} from './test/push-builder';

const OPENID = 'o9AgO5Kd5ggOC-bXrbNODIiE3bGY';
const TEXT = {
  ToUserName: 'gh_97417a04a28d',
  FromUserName: OPENID,
  CreateTime: 1714112445,
  MsgType: 'text',
  Content: '你好 <b>&amp; "quotes"',
  MsgId: '24591658213948176',
};

function message(input: PushInput) {
  const result = parsePush(input);
  if (result.kind !== 'message') throw new Error('expected a message');
  return result.message;
}

describe('GET URL verification', () => {
  const query = {
    signature: 'f464b24fc39322e44b38aa78f5edd27bd1441696',
    timestamp: '1714036504',
    nonce: '1514711492',
    echostr: '4375120948345356249',
  };

  it('echoes echostr for the official vector, in every mode', () => {
    for (const mode of ['plaintext', 'compatible', 'safe'] as const) {
      const result = parsePush({ method: 'GET', query, rawBody: '', channel: channelFor(mode) });
      expect(result).toEqual({ kind: 'verify', echostr: '4375120948345356249' });
    }
  });

  it('rejects a bad or missing signature', () => {
    const channel = channelFor('safe');
    const bad = { ...query, signature: query.signature.replace('f464', 'f465') };
    expect(thrownCode(() => parsePush({ method: 'GET', query: bad, rawBody: '', channel }))).toBe(
      'WECHAT_BAD_SIGNATURE',
    );
    const { signature: _s, ...unsigned } = query;
    expect(
      thrownCode(() => parsePush({ method: 'GET', query: unsigned, rawBody: '', channel })),
    ).toBe('WECHAT_BAD_SIGNATURE');
    const { echostr: _e, ...noEcho } = query;
    expect(
      thrownCode(() => parsePush({ method: 'GET', query: noEcho, rawBody: '', channel })),
    ).toBe('WECHAT_BAD_PAYLOAD');
  });
});

describe('official POST vectors', () => {
  it('plaintext JSON debug_demo', () => {
    const msg = message({
      method: 'POST',
      query: {
        signature: '899cf89e464efb63f54ddac96b0a0a235f53aa78',
        timestamp: '1714037059',
        nonce: '486452656',
      },
      rawBody: `{
        "ToUserName": "gh_97417a04a28d",
        "FromUserName": "o9AgO5Kd5ggOC-bXrbNODIiE3bGY",
        "CreateTime": 1714037059,
        "MsgType": "event",
        "Event": "debug_demo",
        "debug_str": "hello world"
      }`,
      channel: channelFor('plaintext', 'json'),
    });
    expect(msg).toEqual({
      openid: OPENID,
      toUserName: 'gh_97417a04a28d',
      createTime: 1714037059,
      dedupeKey: `${OPENID}|1714037059|debug_demo`,
      platformMsgId: null,
      type: 'unsupported',
      rawType: 'event:debug_demo',
    });
  });

  it('safe-mode JSON debug_demo with the documented msg_signature and Encrypt', () => {
    const encrypt =
      '+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04=';
    const input: PushInput = {
      method: 'POST',
      query: {
        signature: '6c5c811b55cc85e0e1b54100749188c20beb3f5d',
        timestamp: '1714112445',
        nonce: '415670741',
        openid: OPENID,
        encrypt_type: 'aes',
        msg_signature: '046e02f8204d34f8ba5fa3b1db94908f3df2e9b3',
      },
      rawBody: JSON.stringify({ ToUserName: 'gh_97417a04a28d', Encrypt: encrypt }, null, 4),
      channel: channelFor('safe', 'json'),
    };
    const msg = message(input);
    expect(msg.rawType).toBe('event:debug_demo');
    expect(msg.createTime).toBe(1714112445);
    expect(msg.type).toBe('unsupported');
    // The 3-part `signature` is valid too, but safe mode must not rely on it.
    const forged = { ...input.query, msg_signature: '046e02f8204d34f8ba5fa3b1db94908f3df2e9b4' };
    expect(thrownCode(() => parsePush({ ...input, query: forged }))).toBe('WECHAT_BAD_SIGNATURE');
  });
});

describe('every mode × format', () => {
  for (const format of ['xml', 'json'] as const) {
    it(`plaintext ${format}`, () => {
      const msg = message(plaintextPush(channelFor('plaintext', format), TEXT));
      expect(msg).toMatchObject({ type: 'text', text: TEXT.Content, platformMsgId: TEXT.MsgId });
      expect(msg.dedupeKey).toBe('24591658213948176');
    });

    it(`safe ${format}`, () => {
      const msg = message(encryptedPush(channelFor('safe', format), TEXT));
      expect(msg).toMatchObject({ type: 'text', text: TEXT.Content, platformMsgId: TEXT.MsgId });
    });

    it(`compatible ${format} prefers the encrypted part`, () => {
      const plainFields = { ...TEXT, Content: 'plaintext half' };
      const msg = message(encryptedPush(channelFor('compatible', format), TEXT, { plainFields }));
      expect(msg.text).toBe(TEXT.Content);
    });

    it(`compatible ${format} refuses a plaintext-only push: no signature covers its body`, () => {
      expect(
        thrownCode(() => parsePush(plaintextPush(channelFor('compatible', format), TEXT))),
      ).toBe('WECHAT_BAD_PAYLOAD');
      // Without an EncodingAESKey the channel is plaintext in all but name.
      const keyless = channelFor('compatible', format, { encodingAesKey: null });
      expect(message(plaintextPush(keyless, TEXT)).text).toBe(TEXT.Content);
    });

    it(`${format} body is read whatever format the channel is configured with`, () => {
      const other = format === 'xml' ? 'json' : 'xml';
      expect(message(plaintextPush(channelFor('plaintext', other), TEXT, format)).text).toBe(
        TEXT.Content,
      );
      expect(message(encryptedPush(channelFor('safe', other), TEXT, { format })).text).toBe(
        TEXT.Content,
      );
    });
  }

  it('a plaintext channel reads an encrypted push when the console drifted to safe mode', () => {
    const drifted = {
      ...encryptedPush(channelFor('safe'), TEXT),
      channel: channelFor('plaintext'),
    };
    expect(message(drifted).text).toBe(TEXT.Content);
  });
});

describe('rejections', () => {
  it('plaintext: checks the signature before reading the body', () => {
    const input = plaintextPush(channelFor('plaintext'), TEXT);
    const query = { ...input.query, signature: sha1Signature('other', TIMESTAMP, NONCE) };
    expect(thrownCode(() => parsePush({ ...input, query, rawBody: 'garbage' }))).toBe(
      'WECHAT_BAD_SIGNATURE',
    );
    const { signature: _s, ...unsigned } = input.query;
    expect(thrownCode(() => parsePush({ ...input, query: unsigned }))).toBe('WECHAT_BAD_SIGNATURE');
  });

  it('safe: a wrong msg_signature, or a tampered Encrypt, is a bad signature', () => {
    const input = encryptedPush(channelFor('safe'), TEXT);
    const query = { ...input.query, msg_signature: sha1Signature(TOKEN, TIMESTAMP, NONCE) };
    expect(thrownCode(() => parsePush({ ...input, query }))).toBe('WECHAT_BAD_SIGNATURE');
    const tampered = input.rawBody.replace(/<Encrypt><!\[CDATA\[(.)/, '<Encrypt><![CDATA[Z$1');
    expect(tampered).not.toBe(input.rawBody);
    expect(thrownCode(() => parsePush({ ...input, rawBody: tampered }))).toBe(
      'WECHAT_BAD_SIGNATURE',
    );
  });

  it('safe: an unencrypted POST is refused even with a valid signature', () => {
    expect(thrownCode(() => parsePush(plaintextPush(channelFor('safe'), TEXT)))).toBe(
      'WECHAT_BAD_PAYLOAD',
    );
    const input = plaintextPush(channelFor('safe'), TEXT);
    const query = { ...input.query, encrypt_type: 'aes', msg_signature: input.query.signature };
    expect(thrownCode(() => parsePush({ ...input, query }))).toBe('WECHAT_BAD_PAYLOAD');
  });

  it('safe: a channel without an EncodingAESKey cannot read pushes', () => {
    const input = encryptedPush(channelFor('safe'), TEXT);
    const channel = channelFor('safe', 'xml', { encodingAesKey: null });
    expect(thrownCode(() => parsePush({ ...input, channel }))).toBe('WECHAT_BAD_PAYLOAD');
  });

  it('a payload encrypted for another AppID', () => {
    const input = encryptedPush(channelFor('safe'), TEXT, { encryptAppId: 'wx1111111111111111' });
    expect(thrownCode(() => parsePush(input))).toBe('WECHAT_APPID_MISMATCH');
    expect(APP_ID).not.toBe('wx1111111111111111');
  });

  it('an encrypted envelope whose Encrypt is not ciphertext', () => {
    const encrypt = 'bm90IGNpcGhlcnRleHQ=';
    const input: PushInput = {
      method: 'POST',
      query: {
        signature: sha1Signature(TOKEN, TIMESTAMP, NONCE),
        timestamp: TIMESTAMP,
        nonce: NONCE,
        encrypt_type: 'aes',
        msg_signature: sha1Signature(TOKEN, TIMESTAMP, NONCE, encrypt),
      },
      rawBody: toXml({ ToUserName: 'gh_1', Encrypt: encrypt }),
      channel: channelFor('safe'),
    };
    expect(thrownCode(() => parsePush(input))).toBe('WECHAT_BAD_PAYLOAD');
  });
});
