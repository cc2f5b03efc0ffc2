import { XMLParser } from 'fast-xml-parser';
import { afterEach, describe, expect, it } from 'vitest';
import { decryptMessage, sha1Signature } from './crypto';
import type { AppConfig, PushFormat, PushMode } from './types';
import {
  callApi,
  classicToken,
  DOC_APP,
  type Received,
  simWith,
  startReceiver,
  tinyPng,
} from '../test/helpers';

const xml = new XMLParser({ parseTagValue: false, processEntities: false });
const TIMEOUT = 400;

/** Parses a plaintext body; JSON MsgId must be a bare 17-digit literal, read as a string. */
function parseBody(body: string, format: PushFormat): Record<string, string> {
  if (format === 'xml') return (xml.parse(body) as { xml: Record<string, string> }).xml;
  const raw = /"MsgId":(\d+)[,}]/.exec(body)?.[1];
  const parsed = JSON.parse(body) as Record<string, unknown>;
  const out = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
  return raw === undefined ? out : { ...out, MsgId: raw };
}

/** Verifies a push the way Kefu must (§1.3–1.4) and returns its message fields. */
function openPush(rec: Received, app: AppConfig): Record<string, string> {
  const { signature, timestamp, nonce } = rec.query;
  expect(signature).toBe(sha1Signature(app.token, timestamp!, nonce!));
  const outer = parseBody(rec.body, app.format);
  if (app.mode === 'plaintext') {
    expect(outer.Encrypt).toBeUndefined();
    return outer;
  }
  expect(rec.query.encrypt_type).toBe('aes');
  expect(rec.query.msg_signature).toBe(
    sha1Signature(app.token, timestamp!, nonce!, outer.Encrypt!),
  );
  const plain = decryptMessage(app.encodingAesKey, outer.Encrypt!);
  expect(plain.appId).toBe(app.appId);
  const inner = parseBody(plain.msg, app.format);
  expect(rec.query.openid).toBe(inner.FromUserName);
  if (app.mode === 'safe') {
    expect(Object.keys(outer).sort()).toEqual(['Encrypt', 'ToUserName']);
  } else {
    const { Encrypt: _e, ...fields } = outer;
    expect(fields).toEqual(inner);
  }
  return inner;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(
  app: Partial<AppConfig> = {},
  responder?: Parameters<typeof startReceiver>[0],
) {
  const receiver = await startReceiver(responder);
  const ctx = await simWith({ pushUrl: receiver.url, ...app }, { pushTimeoutMs: TIMEOUT });
  await ctx.sim.listen();
  cleanups.push(
    () => ctx.sim.close(),
    () => receiver.close(),
  );
  return { ...ctx, receiver, app: ctx.sim.getApp(DOC_APP.appId)! };
}

const combos: Array<[PushMode, PushFormat]> = [
  ['plaintext', 'xml'],
  ['plaintext', 'json'],
  ['compatible', 'xml'],
  ['compatible', 'json'],
  ['safe', 'xml'],
  ['safe', 'json'],
];

describe('push delivery per mode and format (§1.3, §1.6)', () => {
  it.each(combos)('%s / %s text push verifies and decrypts', async (mode, format) => {
    const { sim, receiver, app } = await setup({ mode, format });
    const content = '你好 <b>&amp; "q" ]]> end';
    const result = await sim.sendText(app.appId, 'oUser1', content);
    expect(result).toMatchObject({ status: 200, body: 'success', attempts: 1, acknowledged: true });
    expect(receiver.received).toHaveLength(1);
    const rec = receiver.received[0]!;
    expect(rec.method).toBe('POST');
    expect(rec.headers['content-type']).toBe(format === 'xml' ? 'text/xml' : 'application/json');
    const msg = openPush(rec, app);
    expect(msg).toEqual({
      ToUserName: app.originalId,
      FromUserName: 'oUser1',
      CreateTime: String(Math.floor(sim.now() / 1000)),
      MsgType: 'text',
      Content: content,
      MsgId: result.msgId,
    });
    expect(result.msgId).toMatch(/^\d{17}$/);
    expect(BigInt(result.msgId!) > 2n ** 53n).toBe(true);
  });

  it('pushes image, card and enter-session fields', async () => {
    const { sim, receiver, app } = await setup({ mode: 'safe', format: 'xml' });
    const png = tinyPng(6);
    const img = await sim.sendImage(app.appId, 'oU', png);
    const card = await sim.sendCard(app.appId, 'oU', {
      title: '商品 1001',
      pagePath: 'pages/goods?id=1001',
      thumb: png,
    });
    const enter = await sim.enterSession(app.appId, 'oU', 'product:1001');
    const [m1, m2, m3] = receiver.received.map((r) => openPush(r, app));
    expect(m1).toMatchObject({ MsgType: 'image', MsgId: img.msgId });
    expect(Buffer.from(await (await fetch(m1!.PicUrl!)).arrayBuffer())).toEqual(png);
    expect(m1!.PicUrl).toBe(`${sim.url!}/sim/media/${m1!.MediaId!}`);
    expect(m2).toMatchObject({
      MsgType: 'miniprogrampage',
      Title: '商品 1001',
      AppId: app.appId,
      PagePath: 'pages/goods?id=1001',
      MsgId: card.msgId,
    });
    expect(m2!.ThumbUrl).toBe(`${sim.url!}/sim/media/${m2!.ThumbMediaId!}`);
    expect(m3).toEqual({
      ToUserName: app.originalId,
      FromUserName: 'oU',
      CreateTime: String(Math.floor(sim.now() / 1000)),
      MsgType: 'event',
      Event: 'user_enter_tempsession',
      SessionFrom: 'product:1001',
    });
    expect(enter.msgId).toBeUndefined();
  });

  it('opens the reply window before pushing, so Kefu can answer from its handler', async () => {
    const { sim, receiver, app } = await setup();
    const token = await classicToken(sim);
    let errcode = -99;
    receiver.setResponder(async () => {
      const body = { touser: 'oFast', msgtype: 'text', text: { content: '马上来' } };
      errcode = (await callApi(sim, '/cgi-bin/message/custom/send', token, body)).errcode;
      return { body: 'success' };
    });
    await sim.sendText(app.appId, 'oFast', 'hi');
    expect(errcode).toBe(0);
    expect(sim.customerTimeline(app.appId, 'oFast').map((i) => i.direction)).toEqual(['in', 'out']);
  });
});

describe('delivery semantics (§1.7)', () => {
  it('retries an unanswered push with the identical body, 3 tries in total', async () => {
    const { sim, receiver, app } = await setup({}, (_r, n) => (n < 3 ? 'hang' : { body: '' }));
    const result = await sim.sendText(app.appId, 'oR', 'retry me');
    expect(result).toMatchObject({ status: 200, body: '', attempts: 3, acknowledged: true });
    expect(receiver.received).toHaveLength(3);
    const [a, b, c] = receiver.received;
    expect(b!.body).toBe(a!.body);
    expect(c!.body).toBe(a!.body);
    expect(c!.query).toEqual(a!.query);
    expect(openPush(c!, app).MsgId).toBe(result.msgId);
    expect(sim.customerTimeline(app.appId, 'oR')[0]!.push).toEqual({
      status: 200,
      attempts: 3,
      acknowledged: true,
    });
    expect(sim.stats().push).toBe(3);
  });

  it('gives up after 3 unanswered tries', async () => {
    const { sim, receiver, app } = await setup({}, () => 'hang');
    const result = await sim.sendText(app.appId, 'oR', 'nobody home');
    expect(result).toMatchObject({ status: 0, attempts: 3, acknowledged: false });
    expect(result.error).toMatch(/TimeoutError|abort/i);
    expect(receiver.received).toHaveLength(3);
  });

  it('tries again after a server error, as a receiver refusing under load expects', async () => {
    let calls = 0;
    const { sim, receiver, app } = await setup({}, () =>
      ++calls === 1 ? { status: 503, body: 'busy' } : { status: 200, body: 'success' },
    );
    expect(await sim.sendText(app.appId, 'oR', 'x')).toMatchObject({
      status: 200,
      attempts: 2,
      acknowledged: true,
    });
    expect(receiver.received).toHaveLength(2);
  });

  it('reports HTTP errors and other bodies without retrying', async () => {
    const { sim, receiver, app } = await setup({}, () => ({ status: 401, body: 'bad signature' }));
    expect(await sim.sendText(app.appId, 'oR', 'x')).toMatchObject({
      status: 401,
      body: 'bad signature',
      attempts: 1,
      acknowledged: false,
    });
    receiver.setResponder(() => ({ status: 200, body: 'ok' }));
    expect(await sim.sendText(app.appId, 'oR', 'y')).toMatchObject({
      status: 200,
      attempts: 1,
      acknowledged: false,
    });
    expect(receiver.received).toHaveLength(2);
  });

  it('retries on network errors', async () => {
    const { sim, receiver, app } = await setup();
    await receiver.close();
    const result = await sim.sendText(app.appId, 'oR', 'x');
    expect(result).toMatchObject({ status: 0, attempts: 3, acknowledged: false });
    expect(result.error).toMatch(/ECONNREFUSED|fetch failed/);
  });

  it('records the action without a pushUrl', async () => {
    const { sim } = await simWith();
    const r = await sim.sendText(DOC_APP.appId, 'oN', 'x');
    expect(r).toMatchObject({ status: 0, attempts: 0, acknowledged: false });
    expect(sim.windowState(DOC_APP.appId, 'oN')?.quota).toBe(5);
  });

  it('buildPush + deliver sends a tampered push as is', async () => {
    const { sim, receiver, app } = await setup({ mode: 'safe', format: 'json' }, (rec) => {
      const outer = JSON.parse(rec.body) as { Encrypt: string };
      const { timestamp, nonce, msg_signature } = rec.query;
      const ok = msg_signature === sha1Signature(app.token, timestamp!, nonce!, outer.Encrypt);
      return ok ? { body: 'success' } : { status: 401, body: 'invalid signature' };
    });
    const message = {
      ToUserName: app.originalId,
      FromUserName: 'oT',
      CreateTime: 1,
      MsgType: 'text',
      Content: 'x',
      MsgId: '24591658213948176',
    };
    const push = sim.buildPush(app.appId, message);
    expect((await sim.deliver(push)).acknowledged).toBe(true);
    const bad = { ...push, url: push.url.replace(/msg_signature=\w+/, 'msg_signature=0000') };
    expect(await sim.deliver(bad)).toMatchObject({ status: 401, attempts: 1 });
    expect(receiver.received).toHaveLength(2);
  });

  it('verifyPushUrl performs the GET check (§1.2)', async () => {
    const { sim, app } = await setup({}, (rec) => {
      const { signature, timestamp, nonce, echostr } = rec.query;
      const ok = rec.method === 'GET' && signature === sha1Signature(app.token, timestamp!, nonce!);
      return ok ? { body: echostr! } : { status: 403, body: 'no' };
    });
    expect(await sim.verifyPushUrl(app.appId)).toMatchObject({ ok: true, status: 200 });
    sim.updateApp(app.appId, { token: 'other' });
    expect(await sim.verifyPushUrl(app.appId)).toMatchObject({ ok: false, status: 403 });
  });
});
