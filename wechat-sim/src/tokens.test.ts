import { describe, expect, it } from 'vitest';
import { callApi, classicToken, DOC_APP, simWith } from '../test/helpers';
import type { Sim } from './sim';

const H = 3600_000;

async function stable(sim: Sim, body: Record<string, unknown>) {
  const res = await sim.app.inject({
    method: 'POST',
    url: '/cgi-bin/stable_token',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({
      grant_type: 'client_credential',
      appid: DOC_APP.appId,
      secret: DOC_APP.appSecret,
      ...body,
    }),
  });
  return res.json<{ access_token?: string; expires_in?: number; errcode?: number }>();
}

/** errcode of a send using the token (the customer exists and has a window). */
async function useToken(sim: Sim, token: string): Promise<number> {
  const body = { touser: 'oT', msgtype: 'text', text: { content: 'x' } };
  return (await callApi(sim, '/cgi-bin/message/custom/send', token, body)).errcode;
}

describe('classic access_token (§3.1)', () => {
  it('issues a 7200 s token and reports credential errors', async () => {
    const { sim } = await simWith();
    const get = async (q: string) =>
      (await sim.app.inject({ method: 'GET', url: `/cgi-bin/token?${q}` })).json<{
        access_token: string;
        expires_in: number;
        errcode?: number;
      }>();
    const ok = await get(`grant_type=client_credential&appid=${DOC_APP.appId}&secret=doc-secret`);
    expect(ok.expires_in).toBe(7200);
    expect(ok.access_token.length).toBeGreaterThan(100);
    expect((await get(`grant_type=x&appid=${DOC_APP.appId}&secret=doc-secret`)).errcode).toBe(
      40002,
    );
    expect((await get('grant_type=client_credential&appid=wxnope&secret=a')).errcode).toBe(40013);
    expect(
      (await get(`grant_type=client_credential&appid=${DOC_APP.appId}&secret=bad`)).errcode,
    ).toBe(40001);
    expect(sim.stats().token).toBe(4);
    await sim.close();
  });

  it('a new fetch replaces the old token, which keeps working 5 minutes', async () => {
    const { sim, tick } = await simWith();
    await sim.sendText(DOC_APP.appId, 'oT', 'hi');
    const first = await classicToken(sim);
    const second = await classicToken(sim);
    expect(second).not.toBe(first);
    expect(await useToken(sim, first)).toBe(0);
    tick(5 * 60_000);
    expect(await useToken(sim, first)).toBe(40001);
    expect(await useToken(sim, second)).toBe(0);
    await sim.close();
  });

  it('expires after 2 hours (42001); garbage is 40014; none is 41001', async () => {
    const { sim, tick } = await simWith();
    await sim.sendText(DOC_APP.appId, 'oT', 'hi');
    const token = await classicToken(sim);
    tick(2 * H);
    expect(await useToken(sim, token)).toBe(42001);
    expect(await useToken(sim, 'not-a-token')).toBe(40014);
    const res = await sim.app.inject({ method: 'POST', url: '/cgi-bin/message/custom/send' });
    expect(res.json().errcode).toBe(41001);
    await sim.close();
  });

  it('expireTokens invalidates every token issued so far with 40001', async () => {
    const { sim } = await simWith();
    await sim.sendText(DOC_APP.appId, 'oT', 'hi');
    const classic = await classicToken(sim);
    const st = (await stable(sim, {})).access_token!;
    sim.expireTokens(DOC_APP.appId);
    expect(await useToken(sim, classic)).toBe(40001);
    expect(await useToken(sim, st)).toBe(40001);
    const fresh = (await stable(sim, {})).access_token!;
    expect(fresh).not.toBe(st);
    expect(await useToken(sim, fresh)).toBe(0);
    await sim.close();
  });
});

describe('stable_token (§3.1)', () => {
  it('returns the same token while valid, with the remaining lifetime', async () => {
    const { sim, tick } = await simWith();
    const a = await stable(sim, {});
    expect(a.expires_in).toBe(7200);
    tick(1000 * 1000);
    const b = await stable(sim, { force_refresh: false });
    expect(b.access_token).toBe(a.access_token);
    expect(b.expires_in).toBe(6200);
    expect(sim.stats().stable_token).toBe(2);
    await sim.close();
  });

  it('renews in the last 5 minutes, the old one still valid to its end', async () => {
    const { sim, tick } = await simWith();
    await sim.sendText(DOC_APP.appId, 'oT', 'hi');
    const a = await stable(sim, {});
    tick(2 * H - 299_000);
    const b = await stable(sim, {});
    expect(b.access_token).not.toBe(a.access_token);
    expect(b.expires_in).toBe(7200);
    expect(await useToken(sim, a.access_token!)).toBe(0);
    tick(299_000);
    expect(await useToken(sim, a.access_token!)).toBe(42001);
    expect(await useToken(sim, b.access_token!)).toBe(0);
    await sim.close();
  });

  it('force_refresh issues a new token and invalidates the old one', async () => {
    const { sim } = await simWith();
    await sim.sendText(DOC_APP.appId, 'oT', 'hi');
    const a = await stable(sim, {});
    const b = await stable(sim, { force_refresh: true });
    expect(b.access_token).not.toBe(a.access_token);
    expect(await useToken(sim, a.access_token!)).toBe(40001);
    expect(await useToken(sim, b.access_token!)).toBe(0);
    await sim.close();
  });

  it('is separate from classic tokens and checks credentials', async () => {
    const { sim } = await simWith();
    await sim.sendText(DOC_APP.appId, 'oT', 'hi');
    const st = (await stable(sim, {})).access_token!;
    await classicToken(sim);
    await classicToken(sim);
    expect(await useToken(sim, st)).toBe(0);
    expect((await stable(sim, { secret: 'bad' })).errcode).toBe(40001);
    expect((await stable(sim, { appid: 'wxnope' })).errcode).toBe(40013);
    expect((await stable(sim, { grant_type: 'password' })).errcode).toBe(40002);
    await sim.close();
  });
});
