import { describe, expect, it } from 'vitest';
import { parsePush, type PushInput } from './inbound';
import { parseJsonFields, parsePushBody, parseXmlFields } from './payload-parse';
import {
  channelFor,
  encryptPayloadFor,
  encryptedPush,
  msgSignatureFor,
  plaintextPush,
  thrownCode,
  ORIGINAL_ID,
  type Fields,
} from './test/push-builder';

const OPENID = 'oUser123';
const BASE = { ToUserName: ORIGINAL_ID, FromUserName: OPENID, CreateTime: 1714112445 };

function message(input: PushInput) {
  const result = parsePush(input);
  if (result.kind !== 'message') throw new Error('expected a message');
  return result.message;
}

function plainXml(body: string): PushInput {
  return { ...plaintextPush(channelFor('plaintext'), BASE), rawBody: body };
}

const BOMB =
  '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
  Array.from(
    { length: 9 },
    (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`,
  ).join('') +
  ']><xml><ToUserName>gh_97417a04a28d</ToUserName><FromUserName>&lol9;</FromUserName>' +
  '<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lol9;</Content></xml>';

describe('message types', () => {
  for (const format of ['xml', 'json'] as const) {
    const push = (fields: Record<string, string | number>) =>
      message(plaintextPush(channelFor('plaintext', format), { ...BASE, ...fields }));

    it(`${format}: image`, () => {
      expect(
        push({ MsgType: 'image', PicUrl: 'https://x/p.jpg', MediaId: 'm1', MsgId: '7' }),
      ).toEqual({
        openid: OPENID,
        toUserName: ORIGINAL_ID,
        createTime: 1714112445,
        dedupeKey: '7',
        platformMsgId: '7',
        type: 'image',
        mediaId: 'm1',
        picUrl: 'https://x/p.jpg',
        rawType: 'image',
      });
    });

    it(`${format}: miniprogrampage card`, () => {
      const msg = push({
        MsgType: 'miniprogrampage',
        MsgId: '8',
        Title: 'Shoes',
        AppId: 'wxapp',
        PagePath: 'pages/item?id=1&x=2',
        ThumbUrl: 'https://cdn/t.jpg',
        ThumbMediaId: 'thumb1',
      });
      expect(msg.type).toBe('miniprogrampage');
      expect(msg.card).toEqual({
        title: 'Shoes',
        appId: 'wxapp',
        pagePath: 'pages/item?id=1&x=2',
        thumbUrl: 'https://cdn/t.jpg',
        thumbMediaId: 'thumb1',
      });
    });

    it(`${format}: user_enter_tempsession is enter_session, deduped on user|time|event`, () => {
      const msg = push({ MsgType: 'event', Event: 'user_enter_tempsession', SessionFrom: 'sku-1' });
      expect(msg).toMatchObject({
        type: 'enter_session',
        sessionFrom: 'sku-1',
        platformMsgId: null,
        dedupeKey: `${OPENID}|1714112445|user_enter_tempsession`,
        rawType: 'event:user_enter_tempsession',
      });
    });

    it(`${format}: other types and events are unsupported but returned`, () => {
      expect(push({ MsgType: 'voice', MsgId: '9' })).toMatchObject({
        type: 'unsupported',
        rawType: 'voice',
        dedupeKey: '9',
      });
      expect(push({ MsgType: 'event', Event: 'kf_close_session' }).type).toBe('unsupported');
    });
  }
});

describe('JSON MsgId', () => {
  it('keeps a MsgId above 2^53 exactly (plaintext and safe)', () => {
    const fields = { ...BASE, MsgType: 'text', Content: 'hi', MsgId: '24591658213948176' };
    const plain = plaintextPush(channelFor('plaintext', 'json'), fields);
    expect(plain.rawBody).toContain('"MsgId":24591658213948176}');
    expect(message(plain).platformMsgId).toBe('24591658213948176');
    const safe = encryptedPush(channelFor('safe', 'json'), fields);
    expect(message(safe).dedupeKey).toBe('24591658213948176');
    // An odd id above 2^53 would come back changed from a naive JSON.parse.
    expect(String(JSON.parse('24591658213948177'))).not.toBe('24591658213948177');
    const odd = { ...fields, MsgId: '24591658213948177' };
    expect(message(plaintextPush(channelFor('plaintext', 'json'), odd)).platformMsgId).toBe(
      '24591658213948177',
    );
  });

  it('keeps MsgId wherever it sits, with whitespace, and string MsgIds as they are', () => {
    expect(parseJsonFields('{"MsgId" : 24591658213948176 , "A":1}').MsgId).toBe(
      '24591658213948176',
    );
    expect(parseJsonFields('{"msgid":24591658213948177}').msgid).toBe('24591658213948177');
    expect(parseJsonFields('{"MsgId":"49d72d67_1555684067"}').MsgId).toBe('49d72d67_1555684067');
    // The same text inside a string value is left alone.
    expect(parseJsonFields('{"Content":"\\"MsgId\\":24591658213948176"}').Content).toBe(
      '"MsgId":24591658213948176',
    );
  });
});

describe('XML reading', () => {
  it('takes CDATA verbatim, including a split "]]>" and markup-looking text', () => {
    const fields = parseXmlFields(
      '<xml><Content><![CDATA[a]]]]><![CDATA[>b &amp; <c> <!DOCTYPE x>]]></Content></xml>',
    );
    expect(fields.Content).toBe('a]]>b &amp; <c> <!DOCTYPE x>');
  });

  it('decodes only predefined entities and character references in plain text', () => {
    expect(parseXmlFields('<xml><A>x &amp; &lt;y&gt; &#20320;&#x597D; &foo;</A></xml>').A).toBe(
      'x & <y> 你好 &foo;',
    );
  });

  it('reads a pretty-printed push with a declaration and keeps numbers as strings', () => {
    const fields = parsePushBody(
      '\uFEFF<?xml version="1.0"?>\n<xml>\n  <MsgId>24591658213948176</MsgId>\n  <Empty/>\n</xml>\n',
    );
    expect(fields).toEqual({ MsgId: '24591658213948176', Empty: '' });
  });

  it('a customer text containing "<!DOCTYPE" inside CDATA is a normal message', () => {
    const msg = message(
      plaintextPush(channelFor('plaintext'), {
        ...BASE,
        MsgType: 'text',
        Content: '<!DOCTYPE html><!ENTITY x "y">',
        MsgId: '1',
      }),
    );
    expect(msg.text).toBe('<!DOCTYPE html><!ENTITY x "y">');
  });
});

describe('hostile and malformed bodies', () => {
  it('rejects an entity bomb without expanding it (plaintext and inside an encrypted push)', () => {
    const started = Date.now();
    expect(thrownCode(() => parsePush(plainXml(BOMB)))).toBe('WECHAT_BAD_PAYLOAD');
    const safe = encryptedPush(channelFor('safe'), BASE);
    const encrypt = encryptPayloadFor(BOMB);
    const rawBody = safe.rawBody.replace(
      /<!\[CDATA\[[^\]]*\]\]><\/Encrypt>/,
      `<![CDATA[${encrypt}]]></Encrypt>`,
    );
    const query = { ...safe.query, msg_signature: msgSignatureFor(encrypt) };
    expect(thrownCode(() => parsePush({ ...safe, rawBody, query }))).toBe('WECHAT_BAD_PAYLOAD');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('rejects DOCTYPE or ENTITY markup outside CDATA, in any case', () => {
    for (const body of [
      '<!DOCTYPE xml><xml><A>1</A></xml>',
      '<!doctype xml SYSTEM "file:///etc/passwd"><xml><A>&xxe;</A></xml>',
      '<xml><!ENTITY a "b"><A>&a;</A></xml>',
    ]) {
      expect(thrownCode(() => parsePushBody(body))).toBe('WECHAT_BAD_PAYLOAD');
    }
  });

  it('rejects garbage with WECHAT_BAD_PAYLOAD', () => {
    for (const body of [
      '',
      'hello',
      'success',
      '<xml><A>1</A>',
      '<xml>text</xml>',
      '<a/><b/>',
      '{"A":',
      '{bad}',
      '[]',
      '{"MsgId": 1e999999}x',
    ]) {
      expect(
        thrownCode(() => parsePush(plainXml(body))),
        body,
      ).toBe('WECHAT_BAD_PAYLOAD');
    }
  });

  it('rejects pushes without sender, type or a numeric CreateTime', () => {
    const channel = channelFor('plaintext');
    const cases: Fields[] = [
      { ToUserName: 'gh', CreateTime: 1, MsgType: 'text' },
      { ToUserName: 'gh', FromUserName: 'o', CreateTime: 1 },
      { ToUserName: 'gh', FromUserName: 'o', CreateTime: 'soon', MsgType: 'text' },
    ];
    for (const fields of cases) {
      expect(thrownCode(() => parsePush(plaintextPush(channel, fields)))).toBe(
        'WECHAT_BAD_PAYLOAD',
      );
    }
  });
});
