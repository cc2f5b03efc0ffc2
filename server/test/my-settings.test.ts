import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startStack, type Stack } from './harness';

describe.each(DIALECTS)('PUT /api/me/settings (%s)', (dialect) => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(dialect);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('takes servingChannelIds alone (it answered 500: an UPDATE with nothing to set)', async () => {
    const agent = await s.agent('serving-only');
    const off = await agent.put<{ channels: { channelId: string; serving: boolean }[] }>(
      '/api/me/settings',
      { servingChannelIds: [] },
    );
    expect(off.channels).toEqual([{ channelId: s.channel.id, serving: false }]);
    const on = await agent.put<{ channels: { channelId: string; serving: boolean }[] }>(
      '/api/me/settings',
      { servingChannelIds: [s.channel.id] },
    );
    expect(on.channels).toEqual([{ channelId: s.channel.id, serving: true }]);
  });

  it('refuses an oversized list with 400 and changes nothing', async () => {
    const agent = await s.agent('too-many');
    const res = await fetch(`${s.url}/api/me/settings`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${agent.token}` },
      body: JSON.stringify({ servingChannelIds: Array.from({ length: 501 }, (_, i) => `c${i}`) }),
    });
    expect(res.status).toBe(400);
    const me = await agent.get<{ agent: { channels: { serving: boolean }[] } }>('/api/me');
    expect(me.agent.channels.every((c) => c.serving)).toBe(true);
  });
});
