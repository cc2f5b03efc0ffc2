import { describe, expect, it } from 'vitest';
import { callApi, classicToken, DOC_APP, simWith } from '../test/helpers';
import { SEC_CHECK_MAX_CHARS, SEC_CHECK_RECENT_MS } from './routes-security';

const CHECK = '/wxa/msg_sec_check';

async function ready() {
  const ctx = await simWith();
  await ctx.sim.sendText(DOC_APP.appId, 'oC', '你好');
  ctx.sim.security.setContentRules(DOC_APP.appId, { risky: ['赌博'], review: ['加微信'] });
  const token = await classicToken(ctx.sim);
  const check = (body: unknown) =>
    callApi(ctx.sim, CHECK, token, body) as Promise<Record<string, unknown>>;
  return { ...ctx, token, check };
}

describe('msg_sec_check', () => {
  it('answers v2 with result and detail: pass, review, risky', async () => {
    const { check } = await ready();
    const v2 = (content: string) => check({ content, version: 2, scene: 1, openid: 'oC' });
    expect(await v2('发货了')).toMatchObject({
      errcode: 0,
      result: { suggest: 'pass', label: 100 },
    });
    expect(await v2('可以加微信')).toMatchObject({ result: { suggest: 'review', label: 21000 } });
    const risky = await v2('网络赌博');
    expect(risky).toMatchObject({ errcode: 0, result: { suggest: 'risky', label: 20006 } });
    expect(risky.detail).toEqual(
      expect.arrayContaining([expect.objectContaining({ strategy: 'keyword', keyword: '赌博' })]),
    );
  });

  it('answers v1 with 87014 for risky text', async () => {
    const { check } = await ready();
    expect((await check({ content: '赌博' })).errcode).toBe(87014);
    expect((await check({ content: '你好' })).errcode).toBe(0);
  });

  it('refuses bad input with WeChat’s errcodes', async () => {
    const { sim, check } = await ready();
    const v2 = (body: object) =>
      check({ content: 'x', version: 2, scene: 1, openid: 'oC', ...body });
    expect((await check('not json')).errcode).toBe(47001);
    expect((await v2({ content: '' })).errcode).toBe(44004);
    expect((await v2({ content: 'x'.repeat(SEC_CHECK_MAX_CHARS + 1) })).errcode).toBe(47001);
    expect((await v2({ scene: 9 })).errcode).toBe(40097);
    expect((await v2({ openid: 'nobody' })).errcode).toBe(40003);
    expect((await callApi(sim, CHECK, 'bad-token', { content: 'x' })).errcode).toBe(40014);
    // Two hours outlive the token too: a fresh one, then the stale customer.
    sim.advanceTime(SEC_CHECK_RECENT_MS + 1000);
    const fresh = await classicToken(sim);
    const stale = await callApi(sim, CHECK, fresh, {
      content: 'x',
      version: 2,
      scene: 1,
      openid: 'oC',
    });
    expect(stale.errcode).toBe(61010);
  });

  it('answers scripted failures, then recovers; records every call', async () => {
    const { sim, check } = await ready();
    sim.security.failNext({ errcode: -1, times: 2 });
    const v2 = () => check({ content: '你好', version: 2, scene: 1, openid: 'oC' });
    expect((await v2()).errcode).toBe(-1);
    expect((await v2()).errcode).toBe(-1);
    expect((await v2()).errcode).toBe(0);
    expect(sim.security.calls(DOC_APP.appId).map((c) => c.suggest)).toEqual(['pass']);
  });
});
