import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app';
import { loadChannel } from '../src/modules/channels/channel-store';
import { DIALECTS, startStack, type Stack } from './harness';
import { authorizeShop, setUpPlatform } from './platform-helpers';

const REDIS_URL = process.env.KEFU_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Two Kefu nodes on one database and one Redis: an authorizer token refreshed by both at once is
 * fetched once (the other node takes it), and so is the component token.
 */
describe.each(DIALECTS)('third-party platform tokens across nodes (%s)', (dialect) => {
  let s: Stack;
  let second: Awaited<ReturnType<typeof buildApp>>;
  let platform: Awaited<ReturnType<typeof setUpPlatform>>;
  beforeAll(async () => {
    s = await startStack(dialect, {
      config: { redisUrl: REDIS_URL, redisPrefix: `kefu-t-${randomBytes(4).toString('hex')}:` },
    });
    second = await buildApp(s.app.kefu.ctx.config, {
      logger: false,
      workers: false,
      now: s.clock.now,
    });
    await second.ready();
    platform = await setUpPlatform(s);
  });
  afterAll(async () => {
    await second?.close();
    await s?.close();
  });

  it('refreshes one authorizer token for both nodes, and one component token', async () => {
    const { channelId, shop } = await authorizeShop(
      s,
      s.owner,
      platform.platformId,
      platform.comp.componentAppId,
    );
    const channel = await loadChannel(s.app.kefu.ctx, channelId);
    const nodes = [s.app, second].map((a) => a.kefu.ctx.adapters.wechat_mp!);
    // WeChat revoked the token: both nodes are told to get a new one at the same moment.
    s.sim.platform.expireAuthorizerTokens(shop.appId);
    const before = s.sim.platform.calls('api_authorizer_token');
    await Promise.all(
      nodes.flatMap((n) => [n.checkCredentials(channel), n.checkCredentials(channel)]),
    );
    expect(s.sim.platform.calls('api_authorizer_token') - before).toBe(1);

    // Two hours on, the component token has expired too: links from both nodes fetch it once.
    s.clock.advance(2 * 3600_000);
    const tokenCalls = s.sim.platform.calls('api_component_token');
    const onSecond = () =>
      second.inject({
        method: 'POST',
        url: `/api/platforms/${platform.platformId}/link`,
        headers: { authorization: `Bearer ${s.owner.token}` },
      });
    const links = await Promise.all([
      s.owner.post(`/api/platforms/${platform.platformId}/link`),
      s.owner.post(`/api/platforms/${platform.platformId}/link`),
      onSecond(),
      onSecond(),
    ]);
    expect(links.slice(2).map((r) => (r as { statusCode: number }).statusCode)).toEqual([200, 200]);
    expect(s.sim.platform.calls('api_component_token') - tokenCalls).toBe(1);
    const refreshes = s.sim.platform.calls('api_authorizer_token');
    await Promise.all(nodes.map((n) => n.checkCredentials(channel)));
    expect(s.sim.platform.calls('api_authorizer_token') - refreshes).toBe(1);
  });
});
