import { describe, expect, it } from 'vitest';
import { callApi, classicToken, DOC_APP, OPENID, simWith, startReceiver } from '../test/helpers';
import { decryptMessage, sha1Signature } from './crypto';
import type { Sim } from './sim';

const COMP = {
  componentAppId: 'wxcomponent0001',
  componentSecret: 'component-secret-1',
  token: 'platformtoken',
  encodingAesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  messageUrl: 'http://127.0.0.1:9/wechat/component/p1/$APPID$',
};

async function component(sim: Sim, api: string, body: object, token?: string) {
  const q = token ? `?component_access_token=${encodeURIComponent(token)}` : '';
  const res = await sim.app.inject({
    method: 'POST',
    url: `/cgi-bin/component/${api}${q}`,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
  return res.json<Record<string, unknown> & { errcode?: number }>();
}

async function componentToken(sim: Sim, ticket: string) {
  return component(sim, 'api_component_token', {
    component_appid: COMP.componentAppId,
    component_appsecret: COMP.componentSecret,
    component_verify_ticket: ticket,
  });
}

describe('third-party platform (component) side', () => {
  it('runs ticket → component token → pre-auth → authorization → authorizer token → send', async () => {
    const { sim, tick } = await simWith();
    sim.platform.configure(COMP);
    const { ticket } = await sim.platform.pushTicket(COMP.componentAppId);
    // Wrong secret, unknown ticket, then the real thing.
    expect(
      (
        await component(sim, 'api_component_token', {
          component_appid: COMP.componentAppId,
          component_appsecret: 'wrong-secret',
          component_verify_ticket: ticket,
        })
      ).errcode,
    ).toBe(40125);
    expect((await componentToken(sim, 'ticket@@@forged')).errcode).toBe(61006);
    const ct = String((await componentToken(sim, ticket)).component_access_token);
    expect(
      (
        await component(
          sim,
          'api_create_preauthcode',
          { component_appid: COMP.componentAppId },
          'bad',
        )
      ).errcode,
    ).toBe(40001);
    const pre = await component(
      sim,
      'api_create_preauthcode',
      { component_appid: COMP.componentAppId },
      ct,
    );
    expect(pre.expires_in).toBe(1800);

    // Before authorizing, the app's own token sends; after, only the authorizer token does.
    const own = await classicToken(sim);
    sim.setNickname(DOC_APP.appId, OPENID, 'x');
    const { authCode } = await sim.platform.authorize(COMP.componentAppId, {
      preAuthCode: String(pre.pre_auth_code),
      authorizerAppId: DOC_APP.appId,
    });
    await expect(
      sim.platform.authorize(COMP.componentAppId, {
        preAuthCode: String(pre.pre_auth_code),
        authorizerAppId: DOC_APP.appId,
      }),
    ).rejects.toThrow(/pre_auth_code/);
    const q = await component(
      sim,
      'api_query_auth',
      { component_appid: COMP.componentAppId, authorization_code: authCode },
      ct,
    );
    const info = q.authorization_info as Record<string, unknown>;
    expect(info.authorizer_appid).toBe(DOC_APP.appId);
    // An authorization code is good once.
    expect(
      (
        await component(
          sim,
          'api_query_auth',
          { component_appid: COMP.componentAppId, authorization_code: authCode },
          ct,
        )
      ).errcode,
    ).toBe(61009);

    await sim.sendText(DOC_APP.appId, OPENID, 'hi');
    const send = { touser: OPENID, msgtype: 'text', text: { content: 'reply' } };
    expect((await callApi(sim, '/cgi-bin/message/custom/send', own, send)).errcode).toBe(48001);
    const at = String(info.authorizer_access_token);
    expect((await callApi(sim, '/cgi-bin/message/custom/send', at, send)).errcode).toBe(0);
    expect(sim.platform.authorizerSends(DOC_APP.appId)).toHaveLength(1);

    // Refresh with the refresh token; a wrong one is 61023.
    const refresh = (token: string) =>
      component(
        sim,
        'api_authorizer_token',
        {
          component_appid: COMP.componentAppId,
          authorizer_appid: DOC_APP.appId,
          authorizer_refresh_token: token,
        },
        ct,
      );
    expect((await refresh('nope')).errcode).toBe(61023);
    const next = await refresh(String(info.authorizer_refresh_token));
    expect(sim.platform.isAuthorizerToken(String(next.authorizer_access_token))).toBe(true);

    // The customer's pushes are sealed for the component and signed with its Token.
    const app = sim.getApp(DOC_APP.appId);
    expect(app?.pushUrl).toBe(`http://127.0.0.1:9/wechat/component/p1/${DOC_APP.appId}`);
    const push = sim.buildPush(DOC_APP.appId, { ToUserName: DOC_APP.originalId, MsgType: 'text' });
    const encrypt = /<Encrypt><!\[CDATA\[(.*?)\]\]>/.exec(push.body)?.[1] ?? '';
    expect(push.query.msg_signature).toBe(
      sha1Signature(COMP.token, push.query.timestamp ?? '', push.query.nonce ?? '', encrypt),
    );
    expect(decryptMessage(COMP.encodingAesKey, encrypt).appId).toBe(COMP.componentAppId);

    // Two hours later the component token is expired (42001); withdrawing kills the authorizer token.
    tick(7200_000);
    expect(
      (await component(sim, 'api_create_preauthcode', { component_appid: COMP.componentAppId }, ct))
        .errcode,
    ).toBe(42001);
    const ct2 = String((await componentToken(sim, ticket)).component_access_token);
    const fresh = await component(
      sim,
      'api_authorizer_token',
      {
        component_appid: COMP.componentAppId,
        authorizer_appid: DOC_APP.appId,
        authorizer_refresh_token: String(info.authorizer_refresh_token),
      },
      ct2,
    );
    await sim.platform.unauthorize(COMP.componentAppId, DOC_APP.appId);
    expect(
      (
        await callApi(
          sim,
          '/cgi-bin/message/custom/send',
          String(fresh.authorizer_access_token),
          send,
        )
      ).errcode,
    ).toBe(40001);
    expect(sim.getApp(DOC_APP.appId)?.pushUrl).toBe(DOC_APP.pushUrl);
    expect((await refresh(String(info.authorizer_refresh_token))).errcode).toBe(42001);
    // 12 hours on, the ticket itself has expired.
    tick(12 * 3600_000);
    expect((await componentToken(sim, ticket)).errcode).toBe(61005);
  });
});

describe('third-party platform control API and ticket timer', () => {
  it('configures over HTTP, pushes sealed tickets on a timer, and plays the consent page', async () => {
    const receiver = await startReceiver();
    const { sim } = await simWith();
    try {
      const post = (url: string, payload: object) =>
        sim.app.inject({
          method: 'POST',
          url,
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify(payload),
        });
      expect((await post('/sim/api/components', { componentAppId: 'bad' })).statusCode).toBe(400);
      const made = await post('/sim/api/components', {
        ...COMP,
        eventUrl: `${receiver.url}/events`,
      });
      expect(made.statusCode).toBe(201);
      expect((await post('/sim/api/components/wxnope12345678/ticket', {})).statusCode).toBe(404);

      sim.platform.startTickets(COMP.componentAppId, 20);
      await waitUntil(() => receiver.received.length >= 2);
      const push = receiver.received[0]!;
      const encrypt = /<Encrypt><!\[CDATA\[(.*?)\]\]>/.exec(push.body)?.[1] ?? '';
      const q = push.query;
      expect(q.msg_signature).toBe(
        sha1Signature(COMP.token, q.timestamp ?? '', q.nonce ?? '', encrypt),
      );
      const inner = decryptMessage(COMP.encodingAesKey, encrypt);
      expect(inner.appId).toBe(COMP.componentAppId);
      expect(inner.msg).toContain('<InfoType><![CDATA[component_verify_ticket]]></InfoType>');

      // The consent page: the admin picks the app and agrees; the browser goes to redirect_uri.
      const ticket = /<ComponentVerifyTicket><!\[CDATA\[(.*?)\]\]>/.exec(inner.msg)?.[1] ?? '';
      const ct = String((await componentToken(sim, ticket)).component_access_token);
      const pre = await component(
        sim,
        'api_create_preauthcode',
        { component_appid: COMP.componentAppId },
        ct,
      );
      const page = await sim.app.inject({
        method: 'GET',
        url: `/cgi-bin/componentloginpage?component_appid=${COMP.componentAppId}&pre_auth_code=${String(pre.pre_auth_code)}&redirect_uri=${encodeURIComponent('https://kefu.example/cb?state=s1')}&auth_type=2`,
      });
      expect(page.body).toContain('同意授权');
      const form = new URLSearchParams({
        component_appid: COMP.componentAppId,
        pre_auth_code: String(pre.pre_auth_code),
        redirect_uri: 'https://kefu.example/cb?state=s1',
        authorizer_appid: DOC_APP.appId,
      });
      const agreed = await sim.app.inject({
        method: 'POST',
        url: '/cgi-bin/componentloginpage/confirm',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: form.toString(),
      });
      expect(agreed.statusCode).toBe(302);
      const to = new URL(String(agreed.headers.location));
      expect(to.searchParams.get('state')).toBe('s1');
      expect(to.searchParams.get('auth_code')).toMatch(/^queryauthcode@@@/);
      // The same pre_auth_code cannot be agreed to twice.
      const again = await sim.app.inject({
        method: 'POST',
        url: '/cgi-bin/componentloginpage/confirm',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: form.toString(),
      });
      expect(again.statusCode).toBe(400);
    } finally {
      await sim.close();
      await receiver.close();
    }
  });
});

async function waitUntil(fn: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
