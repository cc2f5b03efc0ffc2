import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callApi, classicToken, DOC_APP, simWith, tinyPng } from '../test/helpers';
import type { Sim } from './sim';

let sim: Sim;
let base: string;

beforeEach(async () => {
  ({ sim } = await simWith());
  base = await sim.listen();
  await sim.sendText(DOC_APP.appId, 'oF', 'hi');
});
afterEach(async () => {
  await sim.close();
});

const text = { touser: 'oF', msgtype: 'text', text: { content: 'x' } };

describe('fault injection', () => {
  it('answers an injected send error the given number of times, then recovers', async () => {
    const token = await classicToken(sim);
    sim.injectFault({ api: 'send', errcode: -1, times: 2 });
    const send = () => callApi(sim, '/cgi-bin/message/custom/send', token, text);
    expect(await send()).toMatchObject({
      errcode: -1,
      errmsg: expect.stringMatching(/^system error/),
    });
    expect((await send()).errcode).toBe(-1);
    expect((await send()).errcode).toBe(0);
    expect(sim.stats().send).toBe(3);
    // Failed calls do not touch the window.
    expect(sim.windowState(DOC_APP.appId, 'oF')?.quota).toBe(4);
  });

  it('can answer with another HTTP status and a custom errmsg', async () => {
    const token = await classicToken(sim);
    sim.injectFault({ api: 'send', errcode: 45009, errmsg: 'quota', httpStatus: 503 });
    const res = await fetch(`${base}/cgi-bin/message/custom/send?access_token=${token}`, {
      method: 'POST',
      body: JSON.stringify(text),
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ errcode: 45009, errmsg: 'quota' });
  });

  it('can drop the connection', async () => {
    const token = await classicToken(sim);
    sim.injectFault({ api: 'send', errcode: -1, dropConnection: true });
    const call = fetch(`${base}/cgi-bin/message/custom/send?access_token=${token}`, {
      method: 'POST',
      body: JSON.stringify(text),
    });
    await expect(call).rejects.toThrow();
    expect((await callApi(sim, '/cgi-bin/message/custom/send', token, text)).errcode).toBe(0);
  });

  it('applies to token, upload, media_get and typing, each only its own API', async () => {
    sim.injectFault({ api: 'token', errcode: -1 });
    sim.injectFault({ api: 'upload', errcode: -1 });
    sim.injectFault({ api: 'media_get', errcode: -1 });
    sim.injectFault({ api: 'typing', errcode: 45009 });
    const tokenUrl = `/cgi-bin/token?grant_type=client_credential&appid=${DOC_APP.appId}&secret=${DOC_APP.appSecret}`;
    expect((await sim.app.inject({ url: tokenUrl })).json().errcode).toBe(-1);
    const token = await classicToken(sim);
    const form = new FormData();
    form.append('media', new Blob([new Uint8Array(tinyPng())]), 'a.png');
    const upload = () =>
      fetch(`${base}/cgi-bin/media/upload?access_token=${token}&type=image`, {
        method: 'POST',
        body: form,
      });
    expect(((await (await upload()).json()) as { errcode: number }).errcode).toBe(-1);
    const id = ((await (await upload()).json()) as { media_id: string }).media_id;
    const get = () =>
      sim.app.inject({ url: `/cgi-bin/media/get?access_token=${token}&media_id=${id}` });
    expect((await get()).json().errcode).toBe(-1);
    expect((await get()).headers['content-type']).toBe('image/png');
    const typing = { touser: 'oF', command: 'Typing' };
    expect((await callApi(sim, '/cgi-bin/message/custom/typing', token, typing)).errcode).toBe(
      45009,
    );
    expect((await callApi(sim, '/cgi-bin/message/custom/typing', token, typing)).errcode).toBe(0);
    expect((await callApi(sim, '/cgi-bin/message/custom/send', token, text)).errcode).toBe(0);
    expect(sim.stats()).toMatchObject({ token: 2, upload: 2, media_get: 2, typing: 2, send: 1 });
  });

  it('a stable_token call also takes a token fault', async () => {
    sim.injectFault({ api: 'token', errcode: 40164, errmsg: 'invalid ip' });
    const res = await sim.app.inject({
      method: 'POST',
      url: '/cgi-bin/stable_token',
      payload: { grant_type: 'client_credential', appid: DOC_APP.appId, secret: DOC_APP.appSecret },
    });
    expect(res.json()).toEqual({ errcode: 40164, errmsg: 'invalid ip' });
  });
});
