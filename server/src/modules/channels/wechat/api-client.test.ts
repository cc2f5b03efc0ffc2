import { afterEach, describe, expect, it } from 'vitest';
import { WechatApiClient, type WechatApiClientOptions } from './api-client';
import { describeErrcode } from './api-errors';
import {
  caught,
  startFakeWechat,
  tokenIssuer,
  type FakeHandler,
  type FakeWechat,
} from './test/fake-wechat';

const SEND = '/cgi-bin/message/custom/send';
let fake: FakeWechat | null = null;

afterEach(async () => {
  await fake?.close();
  fake = null;
});

async function setup(
  handle: FakeHandler,
  options: Partial<WechatApiClientOptions> = {},
): Promise<{ fake: FakeWechat; client: WechatApiClient }> {
  await fake?.close();
  fake = await startFakeWechat(handle);
  const client = new WechatApiClient({
    baseUrl: `${fake.baseUrl}/`,
    appId: 'wxapp',
    appSecret: 'secret',
    tokenEndpoint: 'stable',
    ...options,
  });
  return { fake, client };
}

/** Token from /stable_token; the send endpoint answers with `send`. */
function withToken(send: FakeHandler): FakeHandler {
  const issue = tokenIssuer();
  return (req) =>
    req.path === '/cgi-bin/stable_token' || req.path === '/cgi-bin/token' ? issue() : send(req);
}

const ok = () => ({ json: { errcode: 0, errmsg: 'ok' } });

describe('access token', () => {
  it('10 concurrent callers share one stable_token request; later calls use the cache', async () => {
    let clock = 1_000_000;
    const { fake, client } = await setup(
      (req) => ({ json: { access_token: `T${req.path.length}`, expires_in: 7200 }, delayMs: 30 }),
      { now: () => clock },
    );
    const tokens = await Promise.all(Array.from({ length: 10 }, () => client.getAccessToken()));
    expect(new Set(tokens).size).toBe(1);
    expect(fake.requests).toHaveLength(1);
    const [req] = fake.requests;
    expect(req!.method).toBe('POST');
    expect(req!.path).toBe('/cgi-bin/stable_token');
    expect(req!.json).toEqual({
      grant_type: 'client_credential',
      appid: 'wxapp',
      secret: 'secret',
      force_refresh: false,
    });
    clock += 7200_000 - 5 * 60_000 - 1;
    await client.getAccessToken();
    expect(fake.requests).toHaveLength(1);
    clock += 1; // 5 minutes before expiry: refresh
    await client.getAccessToken();
    expect(fake.requests).toHaveLength(2);
    await client.getAccessToken(true);
    expect(fake.requests).toHaveLength(3);
  });

  it('classic endpoint: GET /cgi-bin/token with the credentials in the query', async () => {
    const { fake, client } = await setup(tokenIssuer(), { tokenEndpoint: 'classic' });
    expect(await client.getAccessToken()).toBe('T1');
    expect(fake.requests[0]).toMatchObject({
      method: 'GET',
      path: '/cgi-bin/token',
      query: { grant_type: 'client_credential', appid: 'wxapp', secret: 'secret' },
    });
  });

  it('checkCredentials fetches a fresh token, and reports a wrong secret as permanent', async () => {
    let secretOk = true;
    const issue = tokenIssuer();
    const { fake, client } = await setup(() =>
      secretOk ? issue() : { json: { errcode: 40001, errmsg: 'invalid credential' } },
    );
    await client.checkCredentials();
    await client.checkCredentials();
    expect(fake.requests).toHaveLength(2);
    secretOk = false;
    const err = await caught(client.checkCredentials());
    expect(err).toMatchObject({ errcode: 40001, transient: false });
    expect(err.reason).toContain('AppSecret');
    expect(fake.requests).toHaveLength(3);
  });

  it('a token answer without a token is an error, not a cached undefined', async () => {
    const { client } = await setup(() => ({ json: { expires_in: 7200 } }));
    expect((await caught(client.getAccessToken())).transient).toBe(false);
  });
});

describe('token refresh and retry', () => {
  it('40001 on send: refreshes the token once and retries once with the new token', async () => {
    const { fake, client } = await setup(
      withToken((req) =>
        req.query.access_token === 'T1' ? { json: { errcode: 40001, errmsg: 'stale' } } : ok(),
      ),
    );
    await client.sendMessage('o1', { type: 'text', text: 'hi' });
    expect(fake.to(SEND).map((r) => r.query.access_token)).toEqual(['T1', 'T2']);
    expect(fake.to('/cgi-bin/stable_token')).toHaveLength(2);
  });

  it('concurrent rejections of the same token share one refresh', async () => {
    const { fake, client } = await setup(
      withToken((req) =>
        req.query.access_token === 'T1' ? { json: { errcode: 42001, errmsg: 'expired' } } : ok(),
      ),
    );
    await client.getAccessToken();
    await Promise.all(
      [1, 2, 3].map((i) => client.sendMessage(`o${i}`, { type: 'text', text: 'x' })),
    );
    expect(fake.to('/cgi-bin/stable_token')).toHaveLength(2);
    expect(fake.to(SEND).filter((r) => r.query.access_token === 'T2')).toHaveLength(3);
  });

  it('a token error that survives the refresh is transient', async () => {
    const { fake, client } = await setup(
      withToken(() => ({ json: { errcode: 40014, errmsg: 'invalid access_token' } })),
    );
    const err = await caught(client.sendMessage('o1', { type: 'text', text: 'hi' }));
    expect(err).toMatchObject({ errcode: 40014, transient: true });
    expect(fake.to(SEND)).toHaveLength(2);
  });
});

describe('errors', () => {
  it('-1 is transient; 45015 and 45047 are permanent with a readable reason', async () => {
    let answer = -1;
    const { client } = await setup(withToken(() => ({ json: { errcode: answer, errmsg: 'x' } })));
    const busy = await caught(client.sendMessage('o1', { type: 'text', text: 'hi' }));
    expect(busy).toMatchObject({ errcode: -1, transient: true });
    answer = 45015;
    const late = await caught(client.sendMessage('o1', { type: 'text', text: 'hi' }));
    expect(late).toMatchObject({ errcode: 45015, transient: false, errmsg: 'x' });
    expect(late.reason).toBe('Outside the 48-hour reply window (45015)');
    expect(late.message).toBe(late.reason);
    answer = 45047;
    expect(await caught(client.sendMessage('o1', { type: 'text', text: 'hi' }))).toMatchObject({
      errcode: 45047,
      transient: false,
    });
  });

  it('5xx, timeouts and unreachable hosts are errcode -2, transient', async () => {
    const slowToken = tokenIssuer();
    const { client } = await setup((req) =>
      req.path === '/cgi-bin/token'
        ? { ...slowToken(), delayMs: 500 }
        : withToken(() => ({ status: 502, body: 'bad gateway' }))(req),
    );
    expect(await caught(client.sendMessage('o', { type: 'text', text: 'x' }))).toMatchObject({
      errcode: -2,
      transient: true,
      httpStatus: 502,
    });
    const slow = new WechatApiClient({
      baseUrl: fake!.baseUrl,
      appId: 'wxapp',
      appSecret: 'secret',
      tokenEndpoint: 'classic',
      timeoutMs: 50,
    });
    const timedOut = await caught(slow.getAccessToken());
    expect(timedOut).toMatchObject({ errcode: -2, transient: true, errmsg: 'timeout after 50 ms' });
    const baseUrl = fake!.baseUrl;
    await fake!.close();
    fake = null;
    const offline = new WechatApiClient({
      baseUrl,
      appId: 'wxapp',
      appSecret: 'secret',
      tokenEndpoint: 'stable',
    });
    expect(await caught(offline.getAccessToken())).toMatchObject({ errcode: -2, transient: true });
  });

  it('describeErrcode covers the §3.6 codes and falls back to errmsg', () => {
    for (const code of [-1, 40001, 40003, 40007, 40164, 42001, 45009, 45015, 45047, 48001]) {
      expect(describeErrcode(code)).toMatch(new RegExp(`^[A-Z].* \\(${code}\\)$`));
    }
    expect(describeErrcode(99999, 'strange')).toBe('WeChat error: strange (99999)');
  });
});
