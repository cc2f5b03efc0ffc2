import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { classicToken, DOC_APP, simWith, tinyPng } from '../test/helpers';
import type { Sim } from './sim';

let sim: Sim;

beforeEach(async () => {
  ({ sim } = await simWith());
});
afterEach(async () => {
  await sim.close();
});

const post = async (url: string, payload: unknown) =>
  sim.app.inject({ method: 'POST', url, payload: payload as Record<string, unknown> });
const get = async (url: string) => sim.app.inject({ method: 'GET', url });

describe('control API /sim/api', () => {
  it('lists, adds (with generated credentials) and updates apps', async () => {
    const created = await post('/sim/api/apps', { mode: 'plaintext', format: 'xml' });
    expect(created.statusCode).toBe(201);
    const cfg = created.json();
    expect(cfg).toMatchObject({ mode: 'plaintext', format: 'xml' });
    expect(cfg.appId).toMatch(/^wx[0-9a-f]{16}$/);
    expect(cfg.originalId).toMatch(/^gh_/);
    expect(cfg.encodingAesKey).toMatch(/^[a-zA-Z0-9]{43}$/);
    expect((await get('/sim/api/apps')).json()).toHaveLength(2);
    const patched = await sim.app.inject({
      method: 'PATCH',
      url: `/sim/api/apps/${cfg.appId}`,
      payload: { pushUrl: 'http://127.0.0.1:9/push', mode: 'safe' },
    });
    expect(patched.json()).toMatchObject({
      appId: cfg.appId,
      mode: 'safe',
      pushUrl: 'http://127.0.0.1:9/push',
    });
    expect((await get(`/sim/api/apps/${cfg.appId}`)).json().mode).toBe('safe');
    expect((await post('/sim/api/apps', { appId: DOC_APP.appId })).statusCode).toBe(409);
    expect((await post('/sim/api/apps', { encodingAesKey: 'short' })).statusCode).toBe(400);
    expect((await get('/sim/api/apps/wxnope')).statusCode).toBe(404);
  });

  it('acts as a customer and shows the timeline, window and inbox', async () => {
    const who = { appId: DOC_APP.appId, openid: 'oPage', nickname: '小王' };
    expect(
      (await post('/sim/api/customer/enter', { ...who, sessionFrom: 'product:1001' })).json(),
    ).toMatchObject({ attempts: 0 });
    const text = (await post('/sim/api/customer/text', { ...who, content: '你好' })).json();
    expect(text.msgId).toMatch(/^\d{17}$/);
    const png = tinyPng();
    await post('/sim/api/customer/image', {
      ...who,
      base64: png.toString('base64'),
      mime: 'image/png',
    });
    await post('/sim/api/customer/card', { ...who, title: '商品', pagePath: 'pages/a' });

    const token = await classicToken(sim);
    await post(`/cgi-bin/message/custom/send?access_token=${token}`, {
      touser: 'oPage',
      msgtype: 'text',
      text: { content: '您好' },
    });

    const view = (await get(`/sim/api/timeline?appId=${DOC_APP.appId}&openid=oPage`)).json();
    expect(view.window).toMatchObject({ quota: 4 });
    expect(view.typing).toEqual({ typing: false });
    expect(
      view.items.map((i: { kind: string; direction: string }) => `${i.direction}:${i.kind}`),
    ).toEqual(['in:event', 'in:text', 'in:image', 'in:miniprogrampage', 'out:text']);
    const image = view.items[2];
    expect(image.image).toEqual({
      url: `/sim/media/${image.mediaId}`,
      mime: 'image/png',
      size: png.length,
    });
    const served = await get(image.image.url);
    expect(served.rawPayload).toEqual(png);
    const card = view.items[3].card;
    expect(card).toMatchObject({ title: '商品', pagePath: 'pages/a', appId: DOC_APP.appId });
    expect((await get(card.thumb.url)).rawPayload.subarray(1, 4).toString()).toBe('PNG');

    const inbox = (await get(`/sim/api/inbox?appId=${DOC_APP.appId}&openid=oPage`)).json();
    expect(inbox.items).toEqual([expect.objectContaining({ msgtype: 'text', text: '您好' })]);
    const customers = (await get(`/sim/api/customers?appId=${DOC_APP.appId}`)).json();
    expect(customers).toEqual([expect.objectContaining({ openid: 'oPage', nickname: '小王' })]);
  });

  it('injects faults, expires tokens, advances time and reports stats', async () => {
    const token = await classicToken(sim);
    await sim.sendText(DOC_APP.appId, 'oCtl', 'hi');
    expect(
      (await post('/sim/api/faults', { api: 'send', errcode: -1, times: 2 })).json(),
    ).toHaveLength(1);
    expect((await get('/sim/api/faults')).json()[0]).toMatchObject({ api: 'send', remaining: 2 });
    expect((await sim.app.inject({ method: 'DELETE', url: '/sim/api/faults' })).json()).toEqual([]);
    expect((await post('/sim/api/faults', { api: 'nope', errcode: 1 })).statusCode).toBe(400);

    expect((await post('/sim/api/expire-tokens', { appId: DOC_APP.appId })).json()).toEqual({
      ok: true,
    });
    const send = await post(`/cgi-bin/message/custom/send?access_token=${token}`, {
      touser: 'oCtl',
      msgtype: 'text',
      text: { content: 'x' },
    });
    expect(send.json().errcode).toBe(40001);

    const before = (await get('/sim/api/clock')).json().now;
    expect((await post('/sim/api/advance-time', { ms: 60_000 })).json().now).toBe(before + 60_000);
    expect((await get('/sim/api/stats')).json()).toMatchObject({ token: 1, send: 1 });
  });

  it('rejects bad customer requests', async () => {
    expect(
      (await post('/sim/api/customer/text', { appId: 'wxnope', openid: 'o', content: 'x' }))
        .statusCode,
    ).toBe(404);
    expect((await post('/sim/api/customer/text', { appId: DOC_APP.appId })).statusCode).toBe(400);
    expect((await get('/sim/api/timeline?appId=wxnope&openid=o')).statusCode).toBe(404);
  });
});

describe('customer page', () => {
  it('serves one self-contained HTML document with the test ids', async () => {
    const res = await get('/');
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    const html = res.body;
    expect(html).not.toContain('src="page.js"');
    expect(html).toContain('<style>');
    expect(html).toContain('const $ = (id) => document.getElementById(id);');
    for (const id of [
      'text-input',
      'send-button',
      'image-input',
      'card-button',
      'enter-button',
      'window-state',
    ]) {
      expect(html).toContain(`data-testid="${id}"`);
    }
    expect(html).toContain("'data-testid': 'timeline-item'");
    expect(html).toContain('进入客服会话');
    expect(html).toContain('/sim/api/');
  });
});
