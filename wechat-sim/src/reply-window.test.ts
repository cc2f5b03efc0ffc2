import { describe, expect, it } from 'vitest';
import { applyGrant, ENTER_GRANT, isWindowOpen, MESSAGE_GRANT } from './reply-window';
import { callApi, classicToken, DOC_APP, simWith } from '../test/helpers';

const H = 3600_000;
const T0 = 1_000_000_000;

describe('reply window arithmetic (§3.3)', () => {
  it('a customer message opens 5 replies for 48 h', () => {
    expect(applyGrant(undefined, MESSAGE_GRANT, T0)).toEqual({ expiresAt: T0 + 48 * H, quota: 5 });
  });

  it('entering opens 2 replies for 1 minute', () => {
    expect(applyGrant(undefined, ENTER_GRANT, T0)).toEqual({ expiresAt: T0 + 60_000, quota: 2 });
  });

  it('does not accumulate: entering twice still gives 2', () => {
    const once = applyGrant(undefined, ENTER_GRANT, T0);
    expect(applyGrant(once, ENTER_GRANT, T0 + 10_000)).toEqual({
      expiresAt: T0 + 70_000,
      quota: 2,
    });
  });

  it('a message after entering resets to 5 / 48 h, not 7', () => {
    const entered = applyGrant(undefined, ENTER_GRANT, T0);
    expect(applyGrant(entered, MESSAGE_GRANT, T0 + 1000)).toEqual({
      expiresAt: T0 + 1000 + 48 * H,
      quota: 5,
    });
  });

  it('a message with replies left resets the count to 5, not 5 + left', () => {
    const w = { expiresAt: T0 + H, quota: 3 };
    expect(applyGrant(w, MESSAGE_GRANT, T0).quota).toBe(5);
  });

  it('entering inside a 48 h window keeps the longer window and the larger count', () => {
    const w = { expiresAt: T0 + 40 * H, quota: 1 };
    expect(applyGrant(w, ENTER_GRANT, T0)).toEqual({ expiresAt: T0 + 40 * H, quota: 2 });
    const rich = { expiresAt: T0 + 40 * H, quota: 4 };
    expect(applyGrant(rich, ENTER_GRANT, T0)).toEqual(rich);
  });

  it('an expired window counts as nothing', () => {
    const old = { expiresAt: T0, quota: 5 };
    expect(isWindowOpen(old, T0)).toBe(false);
    expect(applyGrant(old, ENTER_GRANT, T0)).toEqual({ expiresAt: T0 + 60_000, quota: 2 });
  });
});

describe('reply window through custom/send', () => {
  const text = (touser: string, content = 'hi') => ({ touser, msgtype: 'text', text: { content } });

  it('enter gives 2 sends within a minute, then 45047; after the minute 45015', async () => {
    const { sim, tick } = await simWith();
    const token = await classicToken(sim);
    await sim.enterSession(DOC_APP.appId, 'oA', 'product:1001');
    expect(sim.windowState(DOC_APP.appId, 'oA')?.quota).toBe(2);
    const send = () => callApi(sim, '/cgi-bin/message/custom/send', token, text('oA'));
    expect((await send()).errcode).toBe(0);
    expect((await send()).errcode).toBe(0);
    expect((await send()).errcode).toBe(45047);
    await sim.enterSession(DOC_APP.appId, 'oA', 'product:1001');
    expect((await send()).errcode).toBe(0);
    tick(61_000);
    expect((await send()).errcode).toBe(45015);
    await sim.close();
  });

  it('a message gives 5 sends for 48 h; entering later does not add to them', async () => {
    const { sim, tick } = await simWith();
    await sim.sendText(DOC_APP.appId, 'oB', '在吗');
    // A fresh token per call: the test spans more than a token's 2 hours.
    const send = async () =>
      callApi(sim, '/cgi-bin/message/custom/send', await classicToken(sim), text('oB'));
    for (let i = 0; i < 4; i++) expect((await send()).errcode).toBe(0);
    await sim.enterSession(DOC_APP.appId, 'oB', 'x');
    expect(sim.windowState(DOC_APP.appId, 'oB')?.quota).toBe(2);
    expect((await send()).errcode).toBe(0);
    expect((await send()).errcode).toBe(0);
    expect((await send()).errcode).toBe(45047);
    tick(48 * H - 1);
    expect((await send()).errcode).toBe(45047);
    tick(1);
    expect((await send()).errcode).toBe(45015);
    await sim.sendText(DOC_APP.appId, 'oB', '还在吗');
    expect((await send()).errcode).toBe(0);
    expect(sim.windowState(DOC_APP.appId, 'oB')?.quota).toBe(4);
    await sim.close();
  });
});
