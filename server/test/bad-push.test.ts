import { toJson } from '@kefu/wechat-sim';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DIALECTS, startStack, type Stack } from './harness';
import {
  codeOf,
  customerTexts,
  enterFields,
  hasCustomer,
  newMsgId,
  sealedPush,
  storedRows,
  tamperEncrypt,
  textFields,
  withChannel,
  withQuery,
} from './push-helpers';

const BILLION_LAUGHS = [
  '<?xml version="1.0"?>',
  '<!DOCTYPE xml [',
  '<!ENTITY lol "lol">',
  ...Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`),
  ']>',
].join('');

describe.each(DIALECTS)('bad input at the push endpoint (%s)', (dialect) => {
  let s: Stack; // safe mode, JSON: the default
  let p: Stack; // plaintext mode, XML, with a small body cap
  beforeAll(async () => {
    [s, p] = await Promise.all([
      startStack(dialect),
      startStack(dialect, {
        mode: 'plaintext',
        format: 'xml',
        config: { pushBodyLimit: 16 * 1024 },
      }),
    ]);
  });
  afterAll(async () => {
    await s?.close();
    await p?.close();
  });

  it('refuses forged signatures with 401 and stores nothing', async () => {
    const before = await storedRows(s);
    const push = s.sim.buildPush(s.channel.appId, textFields(s, 'o-forged', '伪造的消息'));
    const forgeries = [
      withQuery(push, { msg_signature: '0'.repeat(40) }),
      withQuery(push, { timestamp: String(Number(push.query.timestamp) + 1) }),
      withQuery(push, { nonce: `${push.query.nonce}1` }),
      tamperEncrypt(push),
    ];
    for (const forged of forgeries) {
      const res = await s.sim.deliver(forged);
      expect(res.status).toBe(401);
      expect(codeOf(res)).toBe('WECHAT_BAD_SIGNATURE');
    }
    // Plaintext mode: the signature covers token, timestamp and nonce.
    const plainBefore = await storedRows(p);
    const plain = p.sim.buildPush(p.channel.appId, textFields(p, 'o-forged', '伪造的消息'));
    const res = await p.sim.deliver(withQuery(plain, { signature: 'f'.repeat(40) }));
    expect([res.status, codeOf(res)]).toEqual([401, 'WECHAT_BAD_SIGNATURE']);

    expect(await storedRows(s)).toEqual(before);
    expect(await storedRows(p)).toEqual(plainBefore);
    expect(await hasCustomer(s, 'o-forged')).toBe(false);
    const listed = await s.owner.get('/api/conversations');
    expect(listed.items.some((c: any) => c.customer.openid === 'o-forged')).toBe(false);

    // The untouched push is fine: it was the tampering that was refused.
    expect((await s.sim.deliver(push)).acknowledged).toBe(true);
    expect(await customerTexts(s, 'o-forged')).toEqual(['伪造的消息']);
  });

  it('refuses a correctly signed ciphertext sealed for another AppID', async () => {
    const before = await storedRows(s);
    const push = sealedPush(
      s,
      toJson(textFields(s, 'o-foreign', '别家的消息')),
      'wxforeign00000000',
    );
    const res = await s.sim.deliver(push);
    expect([res.status, codeOf(res)]).toEqual([401, 'WECHAT_APPID_MISMATCH']);
    expect(await storedRows(s)).toEqual(before);
  });

  it('answers 400 WECHAT_BAD_PAYLOAD to malformed XML and JSON, and stores nothing', async () => {
    const before = await storedRows(p);
    const valid = p.sim.buildPush(p.channel.appId, textFields(p, 'o-malformed', 'x'));
    const bodies = [
      '<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Content>unclosed</xml>',
      '<xml><FromUserName>o-malformed</FromUserName></xml><xml></xml>',
      '{"FromUserName": "o-malformed", "MsgType": "text", ',
      '["not", "an", "object"]',
      'neither xml nor json',
      // Well-formed, but without the sender.
      '<xml><MsgType><![CDATA[text]]></MsgType><CreateTime>1700000000</CreateTime></xml>',
    ];
    for (const body of bodies) {
      const res = await p.sim.deliver({ ...valid, body });
      expect([res.status, codeOf(res)], body).toEqual([400, 'WECHAT_BAD_PAYLOAD']);
    }
    // Safe mode: a malformed message inside a correctly signed ciphertext.
    const safeBefore = await storedRows(s);
    const sealed = await s.sim.deliver(sealedPush(s, '{"FromUserName":"o-malformed",'));
    expect([sealed.status, codeOf(sealed)]).toEqual([400, 'WECHAT_BAD_PAYLOAD']);

    expect(await storedRows(p)).toEqual(before);
    expect(await storedRows(s)).toEqual(safeBefore);
  });

  it('answers 413 BODY_TOO_LARGE to a body over the cap', async () => {
    // Default cap (256 KiB) on the safe channel.
    const before = await storedRows(s);
    const big = s.sim.buildPush(s.channel.appId, textFields(s, 'o-big', '长'.repeat(100_000)));
    expect(big.body.length).toBeGreaterThan(256 * 1024);
    const res = await s.sim.deliver(big);
    expect([res.status, codeOf(res)]).toEqual([413, 'BODY_TOO_LARGE']);
    expect(await storedRows(s)).toEqual(before);

    // A configured cap (16 KiB): just over is refused, just under is stored.
    const plainBefore = await storedRows(p);
    const over = await p.sim.deliver(
      p.sim.buildPush(p.channel.appId, textFields(p, 'o-big', 'a'.repeat(17 * 1024))),
    );
    expect([over.status, codeOf(over)]).toEqual([413, 'BODY_TOO_LARGE']);
    expect(await storedRows(p)).toEqual(plainBefore);
    const under = await p.sim.deliver(
      p.sim.buildPush(p.channel.appId, textFields(p, 'o-big', 'a'.repeat(15 * 1024))),
    );
    expect(under.acknowledged).toBe(true);
    expect(await customerTexts(p, 'o-big')).toEqual(['a'.repeat(15 * 1024)]);
  });

  it('answers 404 for an unknown or deleted channel, on POST and GET', async () => {
    const push = s.sim.buildPush(s.channel.appId, textFields(s, 'o-lost', '迷路了'));
    const removed = await s.owner.post('/api/channels', {
      name: 'Closed shop',
      appId: 'wxclosed00000000',
      originalId: 'gh_closed',
      appSecret: 'secret-closed',
      token: 'closedtoken',
      mode: 'plaintext',
    });
    await s.owner.request('DELETE', `/api/channels/${removed.id}`);
    for (const id of ['no-such-channel', randomUUID(), removed.id]) {
      const res = await s.sim.deliver(withChannel(push, id));
      expect([res.status, codeOf(res)]).toEqual([404, 'CHANNEL_NOT_FOUND']);
      const query = new URLSearchParams({ ...push.query, echostr: 'e' }).toString();
      const get = await fetch(`${s.url}/wechat/${id}?${query}`);
      expect(get.status).toBe(404);
    }
    expect(await hasCustomer(s, 'o-lost')).toBe(false);
  });

  it('answers success to a repeated MsgId and stores the message once', async () => {
    const msgId = newMsgId();
    const push = s.sim.buildPush(
      s.channel.appId,
      textFields(s, 'o-repeat', '只说一次', { MsgId: msgId }),
    );
    const first = await s.sim.deliver(push);
    const second = await s.sim.deliver(push);
    // Built again: a new nonce and ciphertext, but the same MsgId, so the same message.
    const resigned = await s.sim.deliver(
      s.sim.buildPush(s.channel.appId, textFields(s, 'o-repeat', '只说一次', { MsgId: msgId })),
    );
    for (const res of [first, second, resigned]) {
      expect([res.status, res.body]).toEqual([200, 'success']);
    }
    expect(await customerTexts(s, 'o-repeat')).toEqual(['只说一次']);
    const conv = (await s.owner.get('/api/conversations')).items.find(
      (c: any) => c.customer.openid === 'o-repeat',
    );
    const { items } = await s.owner.get(`/api/conversations/${conv.id}/messages`);
    expect(items.filter((m: any) => m.sender === 'customer')).toHaveLength(1);
  });

  it('refuses XML with a DTD and never expands an entity reference', async () => {
    const before = await storedRows(p);
    const valid = p.sim.buildPush(p.channel.appId, textFields(p, 'o-xxe', 'x'));
    const to = p.sim.getApp(p.channel.appId)?.originalId ?? '';
    const fields = (content: string, openid = 'o-xxe') =>
      `<ToUserName><![CDATA[${to}]]></ToUserName><FromUserName><![CDATA[${openid}]]></FromUserName>` +
      `<CreateTime>${Math.floor(p.clock.now() / 1000)}</CreateTime><MsgType><![CDATA[text]]></MsgType>` +
      `<Content>${content}</Content><MsgId>${newMsgId()}</MsgId>`;
    const hostile = [
      `${BILLION_LAUGHS}<xml>${fields('&lol9;')}</xml>`,
      `<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml>${fields('&xxe;')}</xml>`,
      `<xml>${fields('x')}<!DOCTYPE y></xml>`,
    ];
    for (const body of hostile) {
      const res = await p.sim.deliver({ ...valid, body });
      expect([res.status, codeOf(res)]).toEqual([400, 'WECHAT_BAD_PAYLOAD']);
    }
    expect(await storedRows(p)).toEqual(before);
    expect(await hasCustomer(p, 'o-xxe')).toBe(false);

    // Without a DTD, an unknown reference stays literal text; CDATA is taken verbatim.
    const literal = await p.sim.deliver({
      ...valid,
      body: `<xml>${fields('hi &lol9; there')}</xml>`,
    });
    expect(literal.acknowledged).toBe(true);
    const cdata = '<![CDATA[<!DOCTYPE x [<!ENTITY a "b">]> &a;]]>';
    expect(
      (await p.sim.deliver({ ...valid, body: `<xml>${fields(cdata)}</xml>` })).acknowledged,
    ).toBe(true);
    expect(await customerTexts(p, 'o-xxe')).toEqual([
      'hi &lol9; there',
      '<!DOCTYPE x [<!ENTITY a "b">]> &a;',
    ]);
  });

  it('answers the URL check with echostr only when the signature is good', async () => {
    for (const stack of [s, p]) {
      const check = await stack.sim.verifyPushUrl(stack.channel.appId);
      expect(check).toMatchObject({ ok: true, status: 200 });
    }
    const push = s.sim.buildPush(s.channel.appId, textFields(s, 'o-get', 'x'));
    const q = (changes: Record<string, string>) =>
      new URLSearchParams({ ...push.query, echostr: 'echo-me-123', ...changes }).toString();
    const good = await fetch(`${s.url}/wechat/${s.channel.id}?${q({})}`);
    expect([good.status, await good.text()]).toEqual([200, 'echo-me-123']);
    const forged: Record<string, string>[] = [
      { signature: 'bad' },
      { signature: '' },
      { nonce: '1' },
    ];
    for (const changes of forged) {
      const res = await fetch(`${s.url}/wechat/${s.channel.id}?${q(changes)}`);
      const text = await res.text();
      expect(res.status).toBe(401);
      expect(JSON.parse(text)).toMatchObject({ code: 'WECHAT_BAD_SIGNATURE' });
      expect(text).not.toContain('echo-me-123');
    }
  });

  it('keeps one context line for a repeated user_enter_tempsession event', async () => {
    const t = Math.floor(s.clock.now() / 1000);
    const enter = (at: number) =>
      s.sim.buildPush(s.channel.appId, enterFields(s, 'o-enter', at, 'order-42'));
    // Built twice: a different nonce and ciphertext, the same FromUserName + CreateTime.
    for (const push of [enter(t), enter(t), enter(t)]) {
      expect((await s.sim.deliver(push)).body).toBe('success');
    }
    const conv = (await s.owner.get('/api/conversations')).items.find(
      (c: any) => c.customer.openid === 'o-enter',
    );
    expect(conv.sessionFrom).toBe('order-42');
    const entered = async () =>
      (await s.owner.get(`/api/conversations/${conv.id}/messages`)).items.filter(
        (m: any) => m.kind === 'event' && m.body.event === 'entered',
      );
    expect(await entered()).toHaveLength(1);
    // A later entry is a new event.
    expect((await s.sim.deliver(enter(t + 1))).body).toBe('success');
    expect(await entered()).toHaveLength(2);
  });
});

const MODES = ['plaintext', 'compatible', 'safe'] as const;
const FORMATS = ['xml', 'json'] as const;

describe.each(DIALECTS)('every push mode and format delivers a text (%s)', (dialect) => {
  it.each(MODES.flatMap((mode) => FORMATS.map((format) => ({ mode, format }))))(
    '$mode / $format',
    async ({ mode, format }) => {
      const st = await startStack(dialect, { mode, format });
      try {
        const agent = await st.agent('dora');
        const text = `${mode} ${format} <b>&amp; 你好</b>`;
        const res = await st.sim.sendText(st.channel.appId, 'o-modes', text);
        expect(res.acknowledged).toBe(true);
        // `success` is only answered after the commit, so the queue already has it.
        const { items } = await agent.get('/api/conversations?state=queued');
        const conv = items.find((c: any) => c.customer.openid === 'o-modes');
        expect(conv.lastPreview).toBe(text);
        const msgs = await agent.get(`/api/conversations/${conv.id}/messages`);
        expect(msgs.items.map((m: any) => m.body.text)).toEqual([text]);
      } finally {
        await st.close();
      }
    },
  );
});
