import { makePng } from '@kefu/wechat-sim';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace } from '../src/modules/admin/workspace-service';
import { ApiClient } from './api-client';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';
import { acceptQueued, createPlaintextChannel, settled } from './security-helpers';

const rand = () => randomBytes(3).toString('hex');

/** Who reads and retries, relative to the stack's channel. */
interface Cast {
  alice: ApiClient; // bound, holds the conversation
  bob: ApiClient; // bound, holds nothing
  carol: ApiClient; // same workspace, not bound to the channel
  mallory: ApiClient; // owner of another workspace
}

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    return (err as { status: number }).status;
  }
}

describe.each(DIALECTS)('agents act only where they may (%s)', (dialect) => {
  let s: Stack;
  let c: Cast;
  let convId = '';

  beforeAll(async () => {
    s = await startStack(dialect);
    const carolLogin = `carol-${rand()}`;
    await s.owner.post('/api/agents', {
      login: carolLogin,
      displayName: 'carol',
      password: 'agent-pass-1',
      channelIds: [],
    });
    const malloryLogin = `mallory-${rand()}`;
    await createWorkspace(s.app.kefu.ctx, {
      name: 'Other shop',
      login: malloryLogin,
      password: 'owner-pass-1',
    });
    c = {
      alice: await s.agent('alice'),
      bob: await s.agent('bob', { online: false }),
      carol: await ApiClient.login(s.url, carolLogin, 'agent-pass-1'),
      mallory: await ApiClient.login(s.url, malloryLogin, 'owner-pass-1'),
    };
    await s.sim.sendText(s.channel.appId, 'o-sec', '你好');
    convId = await acceptQueued(c.alice, 'o-sec');
  });
  afterAll(async () => {
    await s?.close();
  });

  it('retrying a failed message follows the rules of sending', async () => {
    s.sim.injectFault({ api: 'send', errcode: 40003, times: 2 });
    const msg = await c.alice.post(`/api/conversations/${convId}/messages`, {
      clientId: 'retry-1',
      kind: 'text',
      text: '第一次',
    });
    expect((await settled(c.alice, convId, msg.id)).delivery).toBe('failed');
    const retry = (who: ApiClient) => who.fails(who.post(`/api/messages/${msg.id}/retry`));
    // Not bound, or another workspace: as if the message did not exist.
    expect([(await retry(c.carol)).status, (await retry(c.carol)).body.code]).toEqual([
      404,
      'MESSAGE_NOT_FOUND',
    ]);
    expect((await retry(c.mallory)).status).toBe(404);
    // Bound, but not the conversation's agent.
    expect((await retry(c.bob)).body.code).toBe('CONV_NOT_YOURS');
    expect((await settled(c.alice, convId, msg.id)).delivery).toBe('failed');
    // A supervisor (the owner) may retry in anyone's conversation; the holder may too.
    await s.owner.post(`/api/messages/${msg.id}/retry`);
    expect((await settled(c.alice, convId, msg.id)).delivery).toBe('failed');
    await c.alice.post(`/api/messages/${msg.id}/retry`);
    expect((await settled(c.alice, convId, msg.id)).delivery).toBe('sent');
    expect(s.sim.inbox(s.channel.appId, 'o-sec').map((m) => m.text)).toEqual(['第一次']);
  });

  it('media is read by supervisors, its uploader, and agents of a channel whose messages carry it', async () => {
    await s.sim.sendImage(
      s.channel.appId,
      'o-sec',
      makePng(12, 12, () => [5, 6, 7]),
    );
    await s.sim.sendCard(s.channel.appId, 'o-sec', {
      title: '商品',
      pagePath: 'pages/item?id=1',
      thumb: makePng(10, 10, () => [1, 2, 3]),
    });
    const fetched = await waitFor(async () => {
      const { items } = await c.alice.get(`/api/conversations/${convId}/messages`);
      const image = items.find((m: any) => m.kind === 'image' && m.mediaId);
      const card = items.find(
        (m: any) =>
          m.kind === 'miniprogrampage' && /^[0-9a-f-]{36}$/.test(m.body.card?.thumbMediaId),
      );
      return image && card ? { image: image.mediaId, thumb: card.body.card.thumbMediaId } : null;
    });
    const upload = await c.alice.post(
      '/api/media',
      makePng(8, 8, () => [9, 9, 9]),
      {
        'content-type': 'image/png',
      },
    );
    const read = (who: ApiClient, id: string) => status(who.get(`/api/media/${id}`));
    for (const id of [fetched.image, fetched.thumb]) {
      expect([await read(c.alice, id), await read(c.bob, id), await read(s.owner, id)]).toEqual([
        200, 200, 200,
      ]);
      expect([await read(c.carol, id), await read(c.mallory, id)]).toEqual([404, 404]);
    }
    // An upload no message carries yet: its uploader and supervisors only.
    expect([await read(c.alice, upload.id), await read(s.owner, upload.id)]).toEqual([200, 200]);
    expect([await read(c.bob, upload.id), await read(c.carol, upload.id)]).toEqual([404, 404]);
    // Nor can an image be sent by someone who may not read it (sending would make it theirs).
    for (const mediaId of [upload.id, fetched.image]) {
      const err = await c.carol.fails(
        c.carol.post(`/api/conversations/${convId}/messages`, {
          clientId: `steal-${mediaId}`,
          kind: 'image',
          mediaId,
        }),
      );
      expect([err.status, err.body.code]).toEqual([404, 'MEDIA_NOT_FOUND']);
    }
    const sent = await c.alice.post(`/api/conversations/${convId}/messages`, {
      clientId: 'img-1',
      kind: 'image',
      mediaId: upload.id,
    });
    expect((await settled(c.alice, convId, sent.id)).delivery).toBe('sent');
    expect([await read(c.bob, upload.id), await read(c.carol, upload.id)]).toEqual([200, 404]);
    expect(await read(c.mallory, upload.id)).toBe(404);
  });

  it('PUT /api/channels/:id/agents changes nothing when it is refused', async () => {
    const ch = await createPlaintextChannel(s.owner, {
      appId: `wx${randomBytes(8).toString('hex')}`,
      appSecret: 'other-secret',
      apiBase: s.sim.url!,
    });
    const db = s.app.kefu.ctx.db;
    const bound = async () =>
      (
        await db
          .selectFrom('channelAgents')
          .select('agentId')
          .where('channelId', '=', ch.id)
          .orderBy('agentId')
          .execute()
      ).map((r) => r.agentId);
    await s.owner.put(`/api/channels/${ch.id}/agents`, { agentIds: [c.alice.agentId] });
    // 101 agents, written directly (hashing 101 passwords would only slow the test down).
    const ids = Array.from({ length: 101 }, () => crypto.randomUUID());
    const now = Date.now();
    await db
      .insertInto('agents')
      .values(
        ids.map((id, i) => ({
          id,
          workspaceId: s.workspaceId,
          login: `bulk-${dialect}-${rand()}-${i}`,
          displayName: `bulk ${i}`,
          passwordHash: 'x',
          role: 'agent' as const,
          status: 'offline' as const,
          capacity: 5,
          autoAccept: 0,
          notifications: 0,
          lastAssignedAt: 0,
          statusChangedAt: now,
          disconnectedAt: null,
          disabled: 0,
          createdAt: now,
        })),
      )
      .execute();
    const put = (agentIds: string[]) =>
      s.owner.fails(s.owner.put(`/api/channels/${ch.id}/agents`, { agentIds }));
    const tooMany = await put(ids);
    expect([tooMany.status, tooMany.body.code]).toEqual([409, 'CHANNEL_AGENT_LIMIT']);
    expect(await bound()).toEqual([c.alice.agentId]);
    // An unknown id (or another workspace's agent) is refused before anything changes, too.
    for (const odd of ['no-such-agent', c.mallory.agentId]) {
      expect((await put([ids[0]!, odd])).status).toBe(404);
      expect(await bound()).toEqual([c.alice.agentId]);
    }
    const ok = await s.owner.put(`/api/channels/${ch.id}/agents`, { agentIds: ids.slice(0, 100) });
    expect(ok.items).toHaveLength(100);
    expect(await bound()).toEqual([...ids.slice(0, 100)].sort());
  });
});
