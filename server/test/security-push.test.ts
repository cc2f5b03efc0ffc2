import { sha1Signature, type PushRequest } from '@kefu/wechat-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startStack, type Stack } from './harness';
import { kefuEnv, startKefu } from './kefu-process';
import {
  codeOf,
  customerTexts,
  hasCustomer,
  storedRows,
  textFields,
  withQuery,
} from './push-helpers';

const KIB = 1024;

/** A push with this body, signed with a valid `signature` (the triple covers no body). */
function signedBody(s: Stack, body: string, extraQuery: Record<string, string> = {}): PushRequest {
  const valid = s.sim.buildPush(s.channel.appId, textFields(s, 'o-any', 'x'));
  return { ...withQuery(valid, extraQuery), body };
}

/** Bodies built to make a backtracking or quadratic parser spin; each just under 256 KiB. */
function hostileBodies(size = 250 * KIB): Record<string, string> {
  return {
    'unclosed CDATA': `<xml><Content><![CDATA[${'a'.repeat(size)}`,
    'CDATA openers': `<xml><Content>${'<![CDATA['.repeat(size / 9)}`,
    ampersands: `<xml><Content>${'&'.repeat(size)}</Content></xml>`,
    'unclosed tags': `<xml>${'<a '.repeat(size / 3)}`,
    'deep nesting': `<xml>${'<a>'.repeat(size / 3)}`,
    'DOCTYPE after CDATA': `<xml><A><![CDATA[x]]></A>${'<!DOCTYPE '.repeat(size / 10)}`,
    'JSON MsgId spaces': `{"MsgId":1${' '.repeat(size)}`,
  };
}

describe.each(DIALECTS)('push endpoint under attack (%s)', (dialect) => {
  let safe: Stack;
  let plain: Stack;
  let compat: Stack;
  let fresh: Stack;
  beforeAll(async () => {
    [safe, plain, compat, fresh] = await Promise.all([
      startStack(dialect, { mode: 'safe', format: 'xml' }),
      startStack(dialect, { mode: 'plaintext', format: 'xml' }),
      startStack(dialect, { mode: 'compatible', format: 'json' }),
      startStack(dialect, { mode: 'safe', config: { pushMaxAgeSeconds: 300 } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([safe, plain, compat, fresh].map((s) => s?.close()));
  });

  it('checks the signature before reading a byte of the body, in every mode', async () => {
    for (const s of [safe, plain, compat]) {
      const before = await storedRows(s);
      const valid = s.sim.buildPush(s.channel.appId, textFields(s, 'o-cpu', 'x'));
      for (const body of Object.values(hostileBodies())) {
        // `encrypt_type=aes` once skipped the early check; a missing signature is no signature.
        const forged = withQuery({ ...valid, body }, { signature: '0'.repeat(40) });
        const aes = withQuery(forged, { encrypt_type: 'aes', msg_signature: '1'.repeat(40) });
        const { signature: _drop, ...unsigned } = aes.query;
        const noSignature = withQuery({ ...aes, query: unsigned }, {});
        for (const push of [forged, aes, noSignature]) {
          const res = await s.sim.deliver(push);
          expect([res.status, codeOf(res)]).toEqual([401, 'WECHAT_BAD_SIGNATURE']);
        }
      }
      expect(await storedRows(s)).toEqual(before);
    }
  });

  it('refuses hostile bodies that carry a valid signature, and keeps serving', async () => {
    for (const s of [plain, safe]) {
      const before = await storedRows(s);
      for (const [name, body] of Object.entries(hostileBodies())) {
        const res = await s.sim.deliver(signedBody(s, body));
        expect([name, res.status, codeOf(res)]).toEqual([name, 400, 'WECHAT_BAD_PAYLOAD']);
      }
      expect(await storedRows(s)).toEqual(before);
      const ok = await s.sim.deliver(
        s.sim.buildPush(s.channel.appId, textFields(s, 'o-after', '还在')),
      );
      expect(ok.acknowledged).toBe(true);
      expect(await customerTexts(s, 'o-after')).toEqual(['还在']);
    }
  });

  it('refuses a push addressed to another account (ToUserName), in every mode', async () => {
    for (const s of [plain, compat, safe]) {
      const before = await storedRows(s);
      for (const to of ['gh_someoneelse', '', 'wx0000000000000000']) {
        const push = s.sim.buildPush(
          s.channel.appId,
          textFields(s, 'o-misrouted', '发错了', { ToUserName: to }),
        );
        const res = await s.sim.deliver(push);
        expect([res.status, codeOf(res)]).toEqual([403, 'WECHAT_WRONG_RECIPIENT']);
      }
      expect(await storedRows(s)).toEqual(before);
      expect(await hasCustomer(s, 'o-misrouted')).toBe(false);
      // The AppID is accepted as ToUserName too (cloud-function pushes use it).
      const byAppId = s.sim.buildPush(
        s.channel.appId,
        textFields(s, 'o-appid', '用 AppID', { ToUserName: s.channel.appId }),
      );
      expect((await s.sim.deliver(byAppId)).acknowledged).toBe(true);
    }
  });

  it('compatible mode: a seen signature triple cannot carry a forged plaintext body', async () => {
    const before = await storedRows(compat);
    const seen = compat.sim.buildPush(compat.channel.appId, textFields(compat, 'o-real', 'hi'));
    // An attacker who read one signed URL (a log, a proxy) writes a plaintext-only body.
    const forgedFields = textFields(compat, 'o-victim', '请把货款转到这个账户');
    const { Encrypt: _e, ...plainOnly } = JSON.parse(seen.body) as Record<string, unknown>;
    const forged = { ...seen, body: JSON.stringify({ ...plainOnly, ...forgedFields }) };
    const res = await compat.sim.deliver(forged);
    expect([res.status, codeOf(res)]).toEqual([400, 'WECHAT_BAD_PAYLOAD']);
    expect(await storedRows(compat)).toEqual(before);
    expect(await hasCustomer(compat, 'o-victim')).toBe(false);
    expect((await compat.sim.deliver(seen)).acknowledged).toBe(true);
  });

  it('with KEFU_PUSH_MAX_AGE_SECONDS, refuses a replayed push from outside the window', async () => {
    const nowS = Math.floor(fresh.clock.now() / 1000);
    const fields = textFields(fresh, 'o-replay', '旧的');
    const stale = fresh.sim.buildPush(fresh.channel.appId, fields, {
      timestamp: String(nowS - 3600),
    });
    const res = await fresh.sim.deliver(stale);
    expect([res.status, codeOf(res)]).toEqual([401, 'WECHAT_STALE_PUSH']);
    expect(await hasCustomer(fresh, 'o-replay')).toBe(false);
    const future = fresh.sim.buildPush(fresh.channel.appId, fields, {
      timestamp: String(nowS + 3600),
    });
    expect(codeOf(await fresh.sim.deliver(future))).toBe('WECHAT_STALE_PUSH');
    const within = fresh.sim.buildPush(fresh.channel.appId, fields, {
      timestamp: String(nowS - 60),
    });
    expect((await fresh.sim.deliver(within)).acknowledged).toBe(true);
    // Off by default: the other stacks took pushes whatever their timestamp (see above).
    const old = safe.sim.buildPush(safe.channel.appId, textFields(safe, 'o-old', 'x'), {
      timestamp: String(nowS - 3600),
    });
    expect((await safe.sim.deliver(old)).acknowledged).toBe(true);
  });
});

describe('push logging', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(DIALECTS[0]!, { mode: 'plaintext', format: 'xml' });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('never writes signature parameters to the log, even at debug level', async () => {
    const child = await startKefu(
      kefuEnv(s.app.kefu.ctx.config, { KEFU_LOG_LEVEL: 'debug', KEFU_OUTBOX_POLL_MS: '60000' }),
    );
    try {
      const app = s.sim.getApp(s.channel.appId)!;
      // An odd past second, so no other number in the log can contain it by chance.
      const timestamp = String(Math.floor(Date.now() / 1000) - 12_345);
      const nonce = 'n0nce31337';
      const signature = sha1Signature(app.token, timestamp, nonce);
      const push = s.sim.buildPush(s.channel.appId, textFields(s, 'o-logged', 'x'), {
        timestamp,
        nonce,
      });
      const url = `${child.url}/wechat/${s.channel.id}?${new URLSearchParams(push.query).toString()}`;
      const ok = await fetch(url, { method: 'POST', body: push.body });
      expect(await ok.text()).toBe('success');
      const refused = await fetch(url.replace(signature, 'f'.repeat(40)), {
        method: 'POST',
        body: push.body,
      });
      expect(refused.status).toBe(401);
      const check = await fetch(`${url}&echostr=echo7171`);
      expect(await check.text()).toBe('echo7171');
      // The request lines are there (so the test would see a leak) ...
      expect(child.output()).toContain(`/wechat/${s.channel.id}`);
      // ... but none of the values that would let someone replay or answer a check.
      for (const secret of [signature, nonce, timestamp, 'echo7171', 'o-logged']) {
        expect(child.output()).not.toContain(secret);
      }
    } finally {
      await child.kill();
    }
  });
});
