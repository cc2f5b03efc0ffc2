import { makePng } from '@kefu/wechat-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';

describe.each(DIALECTS)('customer-service loop over real HTTP (%s)', (dialect) => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(dialect);
  });
  afterAll(() => s?.close());

  it('text in → queued → agent sees it live → accept → reply reaches the customer', async () => {
    const alice = await s.agent('alice');
    const rt = await alice.socket();
    const push = await s.sim.sendText(s.channel.appId, 'o-cust-1', '你好，我的订单还没发货');
    expect(push.acknowledged).toBe(true);
    const { conversation } = await rt.event('conversation.queued');
    expect(conversation.state).toBe('queued');
    expect(conversation.lastPreview).toBe('你好，我的订单还没发货');

    const queue = await alice.get('/api/conversations?state=queued');
    expect(queue.items.map((c: { id: string }) => c.id)).toContain(conversation.id);

    const accepted = await alice.post(`/api/conversations/${conversation.id}/accept`);
    expect(accepted).toMatchObject({ state: 'active', agentId: alice.agentId });
    await rt.event('conversation.assigned', (d) => d.conversation.id === conversation.id);

    const reply = await alice.post(`/api/conversations/${conversation.id}/messages`, {
      clientId: 'c1',
      kind: 'text',
      text: '您好，马上为您查询',
    });
    expect(reply.delivery).toBe('pending');
    await rt.event(
      'message.updated',
      (d) => d.message.id === reply.id && d.message.delivery === 'sent',
    );
    const inbox = s.sim.inbox(s.channel.appId, 'o-cust-1');
    expect(inbox).toHaveLength(1);
    expect(inbox[0]).toMatchObject({ msgtype: 'text', text: '您好，马上为您查询' });
    await rt.close();
  });

  it('images both ways and a mini-program card in', async () => {
    const bob = await s.agent('bob');
    const png = makePng(64, 48, () => [200, 30, 30]);
    await s.sim.sendImage(s.channel.appId, 'o-cust-2', png, 'image/png');
    const conv = await waitFor(async () =>
      (await bob.get('/api/conversations?state=queued')).items.find(
        (c: any) => c.customer.openid === 'o-cust-2',
      ),
    );
    await bob.post(`/api/conversations/${conv.id}/accept`);
    // The inbound image is fetched with media/get and re-hosted.
    const inbound = await waitFor(async () =>
      (await bob.get(`/api/conversations/${conv.id}/messages`)).items.find(
        (m: any) => m.kind === 'image' && m.mediaId,
      ),
    );
    const res = await fetch(`${s.url}/api/media/${inbound.mediaId}`, {
      headers: { authorization: `Bearer ${bob.token}` },
    });
    expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true);

    const thumb = makePng(52, 41, () => [0, 120, 200]);
    await s.sim.sendCard(s.channel.appId, 'o-cust-2', {
      title: '新款连衣裙',
      pagePath: 'pages/item?id=1001',
      thumb,
    });
    const card = await waitFor(async () =>
      (await bob.get(`/api/conversations/${conv.id}/messages`)).items.find(
        (m: any) => m.kind === 'miniprogrampage' && m.body.card.thumbMediaId,
      ),
    );
    expect(card.body.card).toMatchObject({ title: '新款连衣裙', pagePath: 'pages/item?id=1001' });

    const out = makePng(32, 32, (x) => [10, x * 4, 10]);
    const media = await bob.post('/api/media', out, { 'content-type': 'image/png' });
    const sent = await bob.post(`/api/conversations/${conv.id}/messages`, {
      clientId: 'img-1',
      kind: 'image',
      mediaId: media.id,
    });
    await waitFor(async () =>
      (await bob.get(`/api/conversations/${conv.id}/messages`)).items.find(
        (m: any) => m.id === sent.id && m.delivery === 'sent',
      ),
    );
    const got = s.sim.inbox(s.channel.appId, 'o-cust-2').find((i) => i.msgtype === 'image');
    expect(got?.image?.bytes.equals(out)).toBe(true);
    // The same picture again reuses the media_id instead of uploading twice.
    const uploads = s.sim.stats().upload;
    const again = await bob.post(`/api/conversations/${conv.id}/messages`, {
      clientId: 'img-2',
      kind: 'image',
      mediaId: media.id,
    });
    await waitFor(async () =>
      (await bob.get(`/api/conversations/${conv.id}/messages`)).items.find(
        (m: any) => m.id === again.id && m.delivery === 'sent',
      ),
    );
    expect(s.sim.stats().upload).toBe(uploads);
  });

  it('refuses outside the quota and window with a clear code; the same clientId sends once', async () => {
    const carol = await s.agent('carol');
    await s.sim.sendText(s.channel.appId, 'o-cust-3', '在吗');
    const conv = await waitFor(async () =>
      (await carol.get('/api/conversations?state=queued')).items.find(
        (c: any) => c.customer.openid === 'o-cust-3',
      ),
    );
    await carol.post(`/api/conversations/${conv.id}/accept`);
    const first = await carol.post(`/api/conversations/${conv.id}/messages`, {
      clientId: 'dup',
      kind: 'text',
      text: '在的',
    });
    const second = await carol.post(`/api/conversations/${conv.id}/messages`, {
      clientId: 'dup',
      kind: 'text',
      text: '在的',
    });
    expect(second.id).toBe(first.id);
    for (let i = 0; i < 4; i++)
      await carol.post(`/api/conversations/${conv.id}/messages`, {
        clientId: `q${i}`,
        kind: 'text',
        text: `第${i}条`,
      });
    const refused = await carol.fails(
      carol.post(`/api/conversations/${conv.id}/messages`, {
        clientId: 'q-over',
        kind: 'text',
        text: '第六条',
      }),
    );
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('QUOTA_EXHAUSTED');
    await waitFor(
      () => s.sim.inbox(s.channel.appId, 'o-cust-3').length === 5,
      10_000,
      'five replies delivered',
    );

    // A new customer message reopens 5; 48 hours later the window is closed.
    await s.sim.sendText(s.channel.appId, 'o-cust-3', '还有一个问题');
    await carol.post(`/api/conversations/${conv.id}/messages`, {
      clientId: 'after',
      kind: 'text',
      text: '请说',
    });
    s.clock.advance(49 * 3600_000);
    const closed = await carol.fails(
      carol.post(`/api/conversations/${conv.id}/messages`, {
        clientId: 'late',
        kind: 'text',
        text: '迟到的回复',
      }),
    );
    expect(closed.body.code).toBe('WINDOW_CLOSED');
    expect(s.sim.inbox(s.channel.appId, 'o-cust-3').filter((i) => i.text === '在的')).toHaveLength(
      1,
    );
  });
});
