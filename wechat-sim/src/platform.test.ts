import { describe, expect, it } from 'vitest';
import { callApi, classicToken, DOC_APP, OPENID, simWith } from '../test/helpers';
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
