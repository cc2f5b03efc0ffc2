import { describe, expect, it } from 'vitest';
import { callApi, classicToken, DOC_APP, simWith, startReceiver } from '../test/helpers';
import { deliverPush } from './push-deliver';

const SEND = '/cgi-bin/message/custom/send';

describe('the send log and composed pushes (chaos checker support)', () => {
  it('logs every accepted custom/send call, and only those', async () => {
    const { sim } = await simWith();
    try {
      await sim.sendText(DOC_APP.appId, 'oA', '你好');
      const token = await classicToken(sim);
      const send = (body: unknown) => callApi(sim, SEND, token, body);
      expect(
        (await send({ touser: 'oA', msgtype: 'text', text: { content: 'one' } })).errcode,
      ).toBe(0);
      // Refused calls (unknown customer, bad body) are not in the log.
      expect(
        (await send({ touser: 'oNobody', msgtype: 'text', text: { content: 'x' } })).errcode,
      ).toBe(40003);
      expect((await send({ touser: 'oA', msgtype: 'text', text: {} })).errcode).toBe(44004);
      expect(
        (await send({ touser: 'oA', msgtype: 'text', text: { content: 'two' } })).errcode,
      ).toBe(0);
      const sends = sim.sends(DOC_APP.appId);
      expect(sends.map((s) => [s.seq, s.touser, s.msgtype, s.text])).toEqual([
        [1, 'oA', 'text', 'one'],
        [2, 'oA', 'text', 'two'],
      ]);
      expect(sends[0]!.body).toMatchObject({ touser: 'oA', text: { content: 'one' } });
      expect(sim.sends('wxother')).toEqual([]);
      const res = await sim.app.inject({
        method: 'GET',
        url: `/sim/api/sends?appId=${DOC_APP.appId}`,
      });
      expect(res.json<{ items: unknown[] }>().items).toHaveLength(2);
    } finally {
      await sim.close();
    }
  });

  it('composes a signed push that opens the window but is delivered by the caller', async () => {
    const receiver = await startReceiver();
    const { sim } = await simWith({ pushUrl: `${receiver.url}/push` });
    try {
      const { msgId, push } = sim.composeText(DOC_APP.appId, 'oB', '在吗');
      expect(msgId).toMatch(/^\d{17}$/);
      expect(receiver.received).toHaveLength(0);
      expect(sim.windowState(DOC_APP.appId, 'oB')?.quota).toBe(5);
      expect(sim.customerTimeline(DOC_APP.appId, 'oB').map((i) => i.msgId)).toEqual([msgId]);
      expect((await deliverPush(push, 5000)).acknowledged).toBe(true);
      expect(receiver.received).toHaveLength(1);
    } finally {
      await sim.close();
      await receiver.close();
    }
  });
});
