import { afterEach, describe, expect, it } from 'vitest';
import { WechatApiClient } from './api-client';
import { caught, startFakeWechat, tokenIssuer, type FakeWechat } from './test/fake-wechat';
import { MemoryTokenStore } from './token-store';

let fake: FakeWechat | null = null;

afterEach(async () => {
  await fake?.close();
  fake = null;
});

describe('outbound rules of the API client', () => {
  it('a redirect is a permanent error with a reason, and is not followed', async () => {
    const issue = tokenIssuer();
    fake = await startFakeWechat((req) =>
      req.path === '/cgi-bin/stable_token' ? issue() : { status: 302, body: '' },
    );
    const client = new WechatApiClient({
      baseUrl: fake.baseUrl,
      appId: 'wxapp',
      appSecret: 'secret',
      tokenEndpoint: 'stable',
    });
    const err = await caught(client.sendMessage('o', { type: 'text', text: 'x' }));
    expect(err).toMatchObject({ errcode: -3, transient: false, httpStatus: 302 });
    expect(err.reason).toMatch(/redirect/);
    expect(fake.to('/cgi-bin/message/custom/send')).toHaveLength(1);
  });

  it('a base outside allowedBases is refused before any request', async () => {
    fake = await startFakeWechat(tokenIssuer());
    const client = new WechatApiClient({
      baseUrl: fake.baseUrl,
      appId: 'wxapp',
      appSecret: 'secret',
      tokenEndpoint: 'stable',
      allowedBases: ['https://api.weixin.qq.com'],
    });
    const err = await caught(client.getAccessToken());
    expect(err).toMatchObject({ errcode: -3, transient: false });
    expect(err.reason).toMatch(/not an allowed platform base/);
    expect(fake.requests).toHaveLength(0);
  });

  it('one shared store keeps tokens apart by secret: a wrong secret never sees the right token', async () => {
    fake = await startFakeWechat((req) => {
      const body = req.json as { secret?: string };
      return body.secret === 'right'
        ? { json: { access_token: 'REAL', expires_in: 7200 } }
        : { json: { errcode: 40001, errmsg: 'invalid credential' } };
    });
    const store = new MemoryTokenStore();
    const make = (appSecret: string) =>
      new WechatApiClient({
        baseUrl: fake!.baseUrl,
        appId: 'wxsame',
        appSecret,
        tokenEndpoint: 'stable',
        tokenStore: store,
      });
    expect(await make('right').getAccessToken()).toBe('REAL');
    expect(await make('right').getAccessToken()).toBe('REAL');
    expect(fake.requests).toHaveLength(1);
    const err = await caught(make('wrong').getAccessToken());
    expect(err).toMatchObject({ errcode: 40001, transient: false });
  });
});
