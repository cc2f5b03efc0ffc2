import { generateAppConfig, type AppConfig } from '@kefu/wechat-sim';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace } from '../src/modules/admin/workspace-service';
import { ApiClient } from './api-client';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';
import { newComponent, sealed } from './platform-helpers';

const rand = (n = 6) => randomBytes(n).toString('hex');
const H = 3600_000;

describe.each(DIALECTS)('third-party platform mode (%s)', (dialect) => {
  let s: Stack;
  let comp: {
    componentAppId: string;
    componentSecret: string;
    token: string;
    encodingAesKey: string;
  };
  let platformId = '';
  let eventUrl = '';
  let shop: AppConfig;
  let other: ApiClient;

  beforeAll(async () => {
    s = await startStack(dialect);
    comp = newComponent();
    const { workspaceId } = await createWorkspace(s.app.kefu.ctx, {
      name: 'Other shop',
      login: `other-${rand()}`,
      password: 'owner-pass-1',
    });
    const login = await s.app.kefu.ctx.db
      .selectFrom('agents')
      .select('login')
      .where('workspaceId', '=', workspaceId)
      .executeTakeFirstOrThrow();
    other = await ApiClient.login(s.url, login.login, 'owner-pass-1');
  });
  afterAll(async () => {
    await s?.close();
  });

  it('takes a platform config and validates it like a channel', async () => {
    const simUrl = s.sim.url ?? '';
    const bad = await s.owner.fails(
      s.owner.post('/api/platforms', { ...comp, name: 'Agency', encodingAesKey: 'short' }),
    );
    expect(bad.status).toBe(400);
    const p = await s.owner.post('/api/platforms', { ...comp, name: 'Agency', apiBase: simUrl });
    platformId = p.id;
    expect(p).toMatchObject({ own: true, token: comp.token, ticketAt: null, authorizedCount: 0 });
    expect(p.messageUrl).toMatch(/\/wechat\/component\/[^/]+\/\$APPID\$$/);
    expect(JSON.stringify(p)).not.toContain(comp.componentSecret);
    const dup = await s.owner.fails(s.owner.post('/api/platforms', { ...comp, name: 'Again' }));
    expect(dup.body.code).toBe('PLATFORM_EXISTS');
    // Not shared: another workspace neither sees nor uses it.
    expect((await other.get('/api/platforms')).items).toHaveLength(0);
    expect((await other.fails(other.post(`/api/platforms/${platformId}/link`))).status).toBe(404);
    eventUrl = `${s.url}/wechat/component/${platformId}`;
    s.sim.platform.configure({
      ...comp,
      eventUrl,
      messageUrl: `${s.url}/wechat/component/${platformId}/$APPID$`,
    });
  });

  it('refuses a forged ticket push and a link before any ticket; stores a real ticket', async () => {
    const forged = await sealed(eventUrl, comp.encodingAesKey, 'wrong-token', comp.componentAppId, {
      AppId: comp.componentAppId,
      InfoType: 'component_verify_ticket',
      ComponentVerifyTicket: 'ticket@@@forged',
    });
    expect(forged.status).toBe(401);
    const otherKey = generateAppConfig().encodingAesKey;
    const wrongKey = await sealed(eventUrl, otherKey, comp.token, comp.componentAppId, {
      AppId: comp.componentAppId,
      InfoType: 'component_verify_ticket',
      ComponentVerifyTicket: 'ticket@@@forged',
    });
    expect(wrongKey.status).toBe(400);
    const unsigned = await fetch(eventUrl, { method: 'POST', body: '<xml></xml>' });
    expect(unsigned.status).toBe(401);
    expect((await s.owner.get(`/api/platforms/${platformId}`)).ticketAt).toBeNull();
    const early = await s.owner.fails(s.owner.post(`/api/platforms/${platformId}/link`));
    expect(early.body.code).toBe('PLATFORM_NO_TICKET');

    const pushed = await s.sim.platform.pushTicket(comp.componentAppId);
    expect(pushed.acknowledged).toBe(true);
    expect((await s.owner.get(`/api/platforms/${platformId}`)).ticketAt).toBeGreaterThan(0);
    const row = await s.app.kefu.ctx.db
      .selectFrom('platforms')
      .select('ticketEnc')
      .where('id', '=', platformId)
      .executeTakeFirstOrThrow();
    expect(row.ticketEnc).not.toContain(pushed.ticket);
  });

  let channelId = '';
  it('authorizes a shop through the link into the workspace that made it, without an AppSecret', async () => {
    shop = generateAppConfig();
    s.sim.addApp(shop);
    s.sim.platform.setNickName(shop.appId, '好物小店');
    const link = await s.owner.post(`/api/platforms/${platformId}/link`);
    const url = new URL(link.url);
    expect(url.origin + url.pathname).toBe('https://mp.weixin.qq.com/cgi-bin/componentloginpage');
    expect(url.searchParams.get('auth_type')).toBe('2');
    expect(url.searchParams.get('component_appid')).toBe(comp.componentAppId);
    const redirect = url.searchParams.get('redirect_uri') ?? '';
    const preAuthCode = url.searchParams.get('pre_auth_code') ?? '';
    const { authCode } = await s.sim.platform.authorize(comp.componentAppId, {
      preAuthCode,
      authorizerAppId: shop.appId,
    });
    // The redirect_uri is on Kefu's public URL; in the test Kefu listens on s.url.
    const back = new URL(redirect);
    const callback = (state: string, code = authCode) =>
      fetch(
        `${s.url}${back.pathname}?state=${encodeURIComponent(state)}&auth_code=${encodeURIComponent(code)}&expires_in=600`,
        {
          redirect: 'manual',
        },
      );
    const state = back.searchParams.get('state') ?? '';
    const [grant] = state.split('.');
    for (const forgedState of [`${grant}.AAAA`, 'nothing', `${rand(18)}.${state.split('.')[1]}`]) {
      const res = await callback(forgedState);
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('PLATFORM_STATE_INVALID');
    }
    const res = await callback(state);
    expect(res.status).toBe(303);
    channelId =
      new URL(res.headers.get('location') ?? '', s.url).searchParams.get('authorized') ?? '';
    // Replaying the same state (even with the real code) is refused, and binds nothing twice.
    const replay = await callback(state);
    expect(replay.status).toBe(400);

    const channels = (await s.owner.get('/api/channels')).items;
    const ch = channels.find((c: any) => c.id === channelId);
    expect(ch).toMatchObject({
      appId: shop.appId,
      originalId: shop.originalId,
      name: '好物小店',
      platform: { id: platformId, name: 'Agency', state: 'authorized' },
    });
    expect(channels.filter((c: any) => c.appId === shop.appId)).toHaveLength(1);
    expect((await other.get('/api/channels')).items).toHaveLength(0);
    expect((await other.fails(other.get(`/api/channels/${channelId}`))).status).toBe(404);
    // WeChat owns the credentials of an authorized channel.
    const edit = await s.owner.fails(
      s.owner.patch(`/api/channels/${channelId}`, { appId: 'wxabcdefgh12' }),
    );
    expect(edit.status).toBe(400);
    const stored = await s.app.kefu.ctx.db
      .selectFrom('platformAuthorizers')
      .selectAll()
      .where('channelId', '=', channelId)
      .executeTakeFirstOrThrow();
    expect(stored.refreshEnc).not.toContain('refreshtoken@@@');
  });

  let agent: ApiClient;
  let convId = '';
  const reply = async (clientId: string, text: string) => {
    const m = await agent.post(`/api/conversations/${convId}/messages`, {
      clientId,
      kind: 'text',
      text,
    });
    return waitFor(
      async () =>
        (await agent.get(`/api/conversations/${convId}/messages`)).items.find(
          (x: any) => x.id === m.id && x.delivery !== 'pending',
        ),
      15_000,
      `delivery of ${text}`,
    );
  };

  it('delivers the customer through $APPID$ and the reply through the authorizer token', async () => {
    const login = `pa-${rand(3)}`;
    await s.owner.post('/api/agents', {
      login,
      displayName: 'Platform agent',
      password: 'agent-pass-1',
      capacity: 5,
      channelIds: [channelId],
    });
    agent = await ApiClient.login(s.url, login, 'agent-pass-1');
    await agent.put('/api/me/status', { status: 'online' });
    const pushed = await s.sim.sendText(shop.appId, 'o-shop-1', '你好，在吗');
    expect(pushed.acknowledged).toBe(true);
    const conv = await waitFor(
      async () =>
        (await agent.get('/api/conversations?state=queued')).items.find(
          (c: any) => c.customer.openid === 'o-shop-1',
        ),
      10_000,
      'queued conversation',
    );
    expect(conv.channelId).toBe(channelId);
    expect((await other.get('/api/conversations?state=queued')).items).toHaveLength(0);
    convId = conv.id;
    await agent.post(`/api/conversations/${convId}/accept`);
    expect((await reply('p-1', '在的，您好')).delivery).toBe('sent');
    const sends = s.sim.platform.authorizerSends(shop.appId);
    expect(sends).toHaveLength(1);
    expect(s.sim.inbox(shop.appId, 'o-shop-1').map((m) => m.text)).toEqual(['在的，您好']);

    // A token WeChat revoked: refreshed with the refresh token, the reply still goes.
    s.sim.platform.expireAuthorizerTokens(shop.appId);
    expect((await reply('p-2', '令牌刷新后')).delivery).toBe('sent');
    const after = s.sim.platform.authorizerSends(shop.appId);
    expect(after).toHaveLength(2);
    expect(after[1]?.token).not.toBe(after[0]?.token);

    // Near its expiry the token is renewed before use (and the component token with the ticket).
    s.clock.advance(2 * H - 4 * 60_000);
    await s.sim.platform.pushTicket(comp.componentAppId);
    await s.sim.sendText(shop.appId, 'o-shop-1', '还在吗');
    expect((await reply('p-3', '两小时后')).delivery).toBe('sent');
    const third = s.sim.platform.authorizerSends(shop.appId);
    expect(third[2]?.token).not.toBe(third[1]?.token);
  });

  it('drops pushes for an AppID that is not authorized, storing nothing', async () => {
    const stranger = generateAppConfig();
    const before = await s.app.kefu.ctx.db
      .selectFrom('messages')
      .select((e) => e.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    const res = await sealed(
      `${s.url}/wechat/component/${platformId}/${stranger.appId}`,
      comp.encodingAesKey,
      comp.token,
      comp.componentAppId,
      {
        ToUserName: stranger.originalId,
        FromUserName: 'o-x',
        CreateTime: Math.floor(Date.now() / 1000),
        MsgType: 'text',
        Content: 'hi',
        MsgId: '30000000000000001',
      },
    );
    expect(res.status).toBe(404);
    const unknownPlatform = await sealed(
      `${s.url}/wechat/component/nope/${shop.appId}`,
      comp.encodingAesKey,
      comp.token,
      comp.componentAppId,
      {},
    );
    expect(unknownPlatform.status).toBe(404);
    // The shop's own Token and key are not the platform's: refused.
    const ownKeys = await sealed(
      `${s.url}/wechat/component/${platformId}/${shop.appId}`,
      shop.encodingAesKey,
      shop.token,
      shop.appId,
      {},
    );
    expect(ownKeys.status).toBe(401);
    const after = await s.app.kefu.ctx.db
      .selectFrom('messages')
      .select((e) => e.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });

  it('re-queries on updateauthorized, and stops sending visibly on unauthorized', async () => {
    expect(
      (await s.sim.platform.updateAuthorized(comp.componentAppId, shop.appId, [1, 2])).acknowledged,
    ).toBe(true);
    const row = await s.app.kefu.ctx.db
      .selectFrom('platformAuthorizers')
      .select('funcInfo')
      .where('channelId', '=', channelId)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(row.funcInfo)).toEqual([1, 2]);

    expect((await s.sim.platform.unauthorize(comp.componentAppId, shop.appId)).acknowledged).toBe(
      true,
    );
    const ch = await s.owner.get(`/api/channels/${channelId}`);
    expect(ch.platform.state).toBe('unauthorized');
    const gone = await s.app.kefu.ctx.db
      .selectFrom('platformAuthorizers')
      .select('refreshEnc')
      .where('channelId', '=', channelId)
      .executeTakeFirstOrThrow();
    expect(gone.refreshEnc).toBeNull();
    const sentBefore = s.sim.platform.authorizerSends(shop.appId).length;
    const failed = await reply('p-4', '取消授权后');
    expect(failed.delivery).toBe('failed');
    expect(failed.errorReason).toMatch(/PLATFORM_UNAUTHORIZED/);
    expect(s.sim.platform.authorizerSends(shop.appId)).toHaveLength(sentBefore);
    // A late push on the platform URL for the withdrawn app is not taken.
    const late = await sealed(
      `${s.url}/wechat/component/${platformId}/${shop.appId}`,
      comp.encodingAesKey,
      comp.token,
      comp.componentAppId,
      {},
    );
    expect(late.status).toBe(404);
  });
});
