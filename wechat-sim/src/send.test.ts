import { describe, expect, it } from 'vitest';
import { callApi, classicToken, DOC_APP, simWith, tinyPng } from '../test/helpers';
import type { Sim } from './sim';

const SEND = '/cgi-bin/message/custom/send';

async function upload(sim: Sim, token: string, bytes: Buffer): Promise<string> {
  const boundary = 'x-boundary-1';
  const payload = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="media"; filename="a.png"\r\n` +
        'Content-Type: image/png\r\n\r\n',
    ),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const res = await sim.app.inject({
    method: 'POST',
    url: `/cgi-bin/media/upload?access_token=${token}&type=image`,
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    payload,
  });
  return res.json<{ media_id: string }>().media_id;
}

async function ready() {
  const ctx = await simWith();
  await ctx.sim.sendText(DOC_APP.appId, 'oC', '你好');
  const token = await classicToken(ctx.sim);
  const send = (body: unknown) => callApi(ctx.sim, SEND, token, body);
  return { ...ctx, token, send };
}

describe('custom/send (§3.2)', () => {
  it('delivers text, image, link and card to the inbox and timeline', async () => {
    const { sim, token, send } = await ready();
    const png = tinyPng();
    const mediaId = await upload(sim, token, png);
    expect(await send({ touser: 'oC', msgtype: 'text', text: { content: '您好' } })).toEqual({
      errcode: 0,
      errmsg: 'ok',
    });
    expect(
      (await send({ touser: 'oC', msgtype: 'image', image: { media_id: mediaId } })).errcode,
    ).toBe(0);
    const link = {
      title: 'T',
      description: 'D',
      url: 'https://e.com',
      thumb_url: 'https://e.com/t.png',
    };
    expect((await send({ touser: 'oC', msgtype: 'link', link })).errcode).toBe(0);
    const page = { title: '商品', pagepath: 'pages/p?id=1', thumb_media_id: mediaId, appid: 'wx1' };
    expect(
      (await send({ touser: 'oC', msgtype: 'miniprogrampage', miniprogrampage: page })).errcode,
    ).toBe(0);

    const inbox = sim.inbox(DOC_APP.appId, 'oC');
    expect(inbox.map((i) => i.msgtype)).toEqual(['text', 'image', 'link', 'miniprogrampage']);
    expect(inbox[0]!.text).toBe('您好');
    expect(inbox[1]!.image).toEqual({ bytes: png, mime: 'image/png' });
    expect(inbox[1]!.mediaId).toBe(mediaId);
    expect(inbox[2]!.link).toEqual({
      title: 'T',
      description: 'D',
      url: 'https://e.com',
      thumbUrl: 'https://e.com/t.png',
    });
    expect(inbox[3]!.card).toMatchObject({
      title: '商品',
      pagePath: 'pages/p?id=1',
      appId: 'wx1',
      thumbMediaId: mediaId,
    });
    expect(inbox[3]!.card!.thumb!.bytes).toEqual(png);

    const timeline = sim.customerTimeline(DOC_APP.appId, 'oC');
    expect(timeline.map((i) => i.direction)).toEqual(['in', 'out', 'out', 'out', 'out']);
    expect(timeline.map((i) => i.seq)).toEqual(
      [...timeline.map((i) => i.seq)].sort((a, b) => a - b),
    );
    expect(sim.windowState(DOC_APP.appId, 'oC')?.quota).toBe(1);
    expect(sim.stats().send).toBe(4);
    await sim.close();
  });

  it('answers 40003 for an openid that never wrote, 40001 for an invalidated token', async () => {
    const { sim, send, token } = await ready();
    expect(
      (await send({ touser: 'oNever', msgtype: 'text', text: { content: 'x' } })).errcode,
    ).toBe(40003);
    expect((await send({ msgtype: 'text', text: { content: 'x' } })).errcode).toBe(40003);
    sim.setNickname(DOC_APP.appId, 'oNamed', '只有昵称'); // a nickname alone is not a user
    const named = { touser: 'oNamed', msgtype: 'text', text: { content: 'x' } };
    expect((await send(named)).errcode).toBe(40003);
    sim.expireTokens(DOC_APP.appId);
    const r = await callApi(sim, SEND, token, {
      touser: 'oC',
      msgtype: 'text',
      text: { content: 'x' },
    });
    expect(r.errcode).toBe(40001);
    expect(r.errmsg).toMatch(/^invalid credential/);
    await sim.close();
  });

  it('validates bodies: 47001, 40008, 44004, 45002, 40007', async () => {
    const { sim, send } = await ready();
    expect((await send('{not json')).errcode).toBe(47001);
    expect((await send({ touser: 'oC', msgtype: 'voice', voice: {} })).errcode).toBe(40008);
    expect((await send({ touser: 'oC', msgtype: 'text', text: { content: '' } })).errcode).toBe(
      44004,
    );
    expect((await send({ touser: 'oC', msgtype: 'text' })).errcode).toBe(44004);
    const long = '字'.repeat(683); // 2049 bytes
    expect((await send({ touser: 'oC', msgtype: 'text', text: { content: long } })).errcode).toBe(
      45002,
    );
    expect(
      (await send({ touser: 'oC', msgtype: 'text', text: { content: 'a'.repeat(2048) } })).errcode,
    ).toBe(0);
    expect(
      (await send({ touser: 'oC', msgtype: 'image', image: { media_id: 'nope' } })).errcode,
    ).toBe(40007);
    const page = { title: 't', pagepath: 'p', thumb_media_id: 'nope' };
    expect(
      (await send({ touser: 'oC', msgtype: 'miniprogrampage', miniprogrampage: page })).errcode,
    ).toBe(40007);
    expect((await send({ touser: 'oC', msgtype: 'link', link: { title: 't' } })).errcode).toBe(
      47001,
    );
    // Refused sends do not use the quota.
    expect(sim.windowState(DOC_APP.appId, 'oC')?.quota).toBe(4);
    await sim.close();
  });

  it('rejects media of another app', async () => {
    const { sim, send } = await ready();
    sim.addApp({ ...DOC_APP, appId: 'wxother', appSecret: 's2' });
    const otherToken = await classicToken(sim, 'wxother', 's2');
    const foreign = await upload(sim, otherToken, tinyPng());
    expect(
      (await send({ touser: 'oC', msgtype: 'image', image: { media_id: foreign } })).errcode,
    ).toBe(40007);
    await sim.close();
  });
});

describe('typing (§3.4)', () => {
  const typing = (sim: Sim, token: string, command: string, path = 'typing') =>
    callApi(sim, `/cgi-bin/message/custom/${path}`, token, { touser: 'oC', command });

  it('applies the command, 30 s exchange and 15 s rules on both paths', async () => {
    const { sim, token, tick, send } = await ready();
    expect((await typing(sim, token, 'Dance')).errcode).toBe(45072);
    expect((await typing(sim, token, 'Typing')).errcode).toBe(0);
    expect(sim.typingState(DOC_APP.appId, 'oC').typing).toBe(true);
    expect((await typing(sim, token, 'Typing', 'business/typing')).errcode).toBe(45081);
    tick(15_000);
    expect(sim.typingState(DOC_APP.appId, 'oC').typing).toBe(false);
    expect((await typing(sim, token, 'Typing', 'business/typing')).errcode).toBe(0);
    expect((await typing(sim, token, 'CancelTyping')).errcode).toBe(0);
    expect(sim.typingState(DOC_APP.appId, 'oC')).toEqual({ typing: false });
    tick(15_001); // 30.001 s since the customer's message
    expect((await typing(sim, token, 'Typing')).errcode).toBe(45080);
    await sim.sendText(DOC_APP.appId, 'oC', 'again');
    expect((await typing(sim, token, 'Typing')).errcode).toBe(0);
    expect((await send({ touser: 'oC', msgtype: 'text', text: { content: 'x' } })).errcode).toBe(0);
    expect(sim.typingState(DOC_APP.appId, 'oC').typing).toBe(false);
    expect(sim.stats().typing).toBe(7);
    await sim.close();
  });

  it('needs a known customer and an open window', async () => {
    const { sim, token, tick } = await ready();
    const r = await callApi(sim, '/cgi-bin/message/custom/typing', token, {
      touser: 'oX',
      command: 'Typing',
    });
    expect(r.errcode).toBe(40003);
    tick(48 * 3600_000);
    const fresh = await classicToken(sim);
    expect((await typing(sim, fresh, 'Typing')).errcode).toBe(45015);
    await sim.close();
  });
});
