import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace } from '../src/modules/admin/workspace-service';
import { ApiClient } from './api-client';
import { DIALECTS, startStack, type Stack } from './harness';
import { authorizeShop, sealed, setUpPlatform } from './platform-helpers';

/** Authorizing again, into the same or another workspace, and replays of old events. */
describe.each(DIALECTS)('third-party re-authorization (%s)', (dialect) => {
  let s: Stack;
  let platform: Awaited<ReturnType<typeof setUpPlatform>>;
  let other: ApiClient;
  beforeAll(async () => {
    s = await startStack(dialect);
    platform = await setUpPlatform(s);
    await s.owner.patch(`/api/platforms/${platform.platformId}`, { shared: true });
    const login = `reauth-${Date.now()}`;
    await createWorkspace(s.app.kefu.ctx, { name: 'Shop B', login, password: 'owner-pass-1' });
    other = await ApiClient.login(s.url, login, 'owner-pass-1');
  });
  afterAll(async () => {
    await s?.close();
  });

  it('a shared platform binds into the linking workspace only; a live shop cannot be moved', async () => {
    const { componentAppId } = platform.comp;
    // The other workspace sees the shared platform without its secrets, and links into itself.
    const seen = (await other.get('/api/platforms')).items;
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ own: false, ticketAt: null });
    expect(seen[0].token).toBeUndefined();
    const b = await authorizeShop(s, other, platform.platformId, componentAppId);
    expect((await other.get('/api/channels')).items.map((c: any) => c.id)).toEqual([b.channelId]);
    expect((await s.owner.get('/api/channels')).items.map((c: any) => c.id)).not.toContain(
      b.channelId,
    );
    // The other workspace cannot change the platform it only uses.
    const edit = await other.fails(
      other.patch(`/api/platforms/${platform.platformId}`, { name: 'Mine now' }),
    );
    expect(edit.status).toBe(404);

    // The same shop authorizing through the first workspace's link while still live in B.
    const link = new URL((await s.owner.post(`/api/platforms/${platform.platformId}/link`)).url);
    const { authCode } = await s.sim.platform.authorize(componentAppId, {
      preAuthCode: link.searchParams.get('pre_auth_code') ?? '',
      authorizerAppId: b.shop.appId,
    });
    const back = new URL(link.searchParams.get('redirect_uri') ?? '');
    back.searchParams.set('auth_code', authCode);
    const moved = await fetch(`${s.url}${back.pathname}${back.search}`, { redirect: 'manual' });
    expect(moved.status).toBe(409);
    expect(await moved.text()).toContain('PLATFORM_APP_BOUND');
    expect((await other.get('/api/channels')).items[0].platform.state).toBe('authorized');
  });

  it('authorizing again revives the channel; a replayed old unauthorized push is ignored', async () => {
    const { componentAppId, encodingAesKey, token } = platform.comp;
    const a = await authorizeShop(s, s.owner, platform.platformId, componentAppId);
    const stamp = Math.floor(s.clock.now() / 1000);
    await s.sim.platform.unauthorize(componentAppId, a.shop.appId);
    expect((await s.owner.get(`/api/channels/${a.channelId}`)).platform.state).toBe('unauthorized');

    // Authorize again through a new link of the same workspace: the same channel, authorized.
    s.clock.advance(10 * 60_000);
    const link = new URL((await s.owner.post(`/api/platforms/${platform.platformId}/link`)).url);
    const { authCode } = await s.sim.platform.authorize(componentAppId, {
      preAuthCode: link.searchParams.get('pre_auth_code') ?? '',
      authorizerAppId: a.shop.appId,
    });
    const back = new URL(link.searchParams.get('redirect_uri') ?? '');
    back.searchParams.set('auth_code', authCode);
    const res = await fetch(`${s.url}${back.pathname}${back.search}`, { redirect: 'manual' });
    expect(res.headers.get('location')).toContain(a.channelId);
    expect((await s.owner.get(`/api/channels/${a.channelId}`)).platform.state).toBe('authorized');

    // Someone replays the signed unauthorized push of ten minutes ago: it changes nothing.
    const replay = await sealed(platform.eventUrl, encodingAesKey, token, componentAppId, {
      AppId: componentAppId,
      CreateTime: stamp,
      InfoType: 'unauthorized',
      AuthorizerAppid: a.shop.appId,
    });
    expect(replay.status).toBe(200);
    expect((await s.owner.get(`/api/channels/${a.channelId}`)).platform.state).toBe('authorized');
    expect((await s.sim.sendText(a.shop.appId, 'o-back', '又回来了')).acknowledged).toBe(true);
  });
});
