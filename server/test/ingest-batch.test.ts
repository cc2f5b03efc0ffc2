import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startStack, type Stack } from './harness';
import { customerTexts, storedRows, textFields } from './push-helpers';

/** Pushes committed together in one transaction (group commit) behave as one at a time. */
describe.each(DIALECTS)('group commit of pushes (%s)', (dialect) => {
  let s: Stack;
  beforeAll(async () => {
    // About correctness, not admission: a loaded machine must not turn the burst into 503s.
    s = await startStack(dialect, {
      mode: 'safe',
      format: 'xml',
      config: { pushMaxWaitMs: 120_000 },
    });
  });
  afterAll(async () => {
    await s?.close();
  });

  const post = (p: { url: string; body: string; contentType: string }) =>
    fetch(p.url, { method: 'POST', headers: { 'content-type': p.contentType }, body: p.body }).then(
      async (r) => ({ status: r.status, body: await r.text() }),
    );

  it('stores a burst once each with gapless seqs, copies arriving at once', async () => {
    const before = await storedRows(s);
    const customers = 12;
    const perCustomer = 6;
    const pushes = [];
    for (let k = 0; k < perCustomer; k++)
      for (let c = 0; c < customers; c++)
        pushes.push(s.sim.buildPush(s.channel.appId, textFields(s, `o-burst-${c}`, `第${k}条`)));
    // Every push is sent three times at once, as WeChat's retries can overlap a slow answer.
    const answers = await Promise.all(pushes.flatMap((p) => [post(p), post(p), post(p)]));
    expect(answers.filter((a) => a.body !== 'success')).toEqual([]);

    const after = await storedRows(s);
    expect(after.messages - before.messages).toBe(customers * perCustomer);
    expect(after.customers - before.customers).toBe(customers);
    expect(after.conversations - before.conversations).toBe(customers);
    // Sent all at once, a customer's pushes have no order to keep here (the next test checks
    // order); each text must be stored exactly once, with gapless seqs.
    for (let c = 0; c < customers; c++) {
      const texts = await customerTexts(s, `o-burst-${c}`);
      expect([...texts].sort()).toEqual(Array.from({ length: perCustomer }, (_, k) => `第${k}条`));
    }
    const db = s.app.kefu.ctx.db;
    const seqs = await db
      .selectFrom('messages')
      .select(['conversationId', 'seq'])
      .where('channelId', '=', s.channel.id)
      .orderBy('conversationId')
      .orderBy('seq')
      .execute();
    const byConv = new Map<string, number[]>();
    for (const r of seqs)
      byConv.set(r.conversationId, [...(byConv.get(r.conversationId) ?? []), r.seq]);
    for (const list of byConv.values()) expect(list).toEqual(list.map((_, i) => i + 1));

    // The workspace's event stream stays gapless, one message.created per stored message.
    const events = await db
      .selectFrom('events')
      .select(['seq', 'name'])
      .where('workspaceId', '=', s.workspaceId)
      .orderBy('seq')
      .execute();
    const first = events[0]?.seq ?? 1;
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => first + i));
    expect(events.filter((e) => e.name === 'message.created').length).toBeGreaterThanOrEqual(
      customers * perCustomer,
    );
  });

  it('keeps one customer’s pushes in the order they were answered', async () => {
    for (let k = 0; k < 5; k++) {
      const p = s.sim.buildPush(s.channel.appId, textFields(s, 'o-seq', `顺序${k}`));
      expect((await post(p)).body).toBe('success');
    }
    expect(await customerTexts(s, 'o-seq')).toEqual([0, 1, 2, 3, 4].map((k) => `顺序${k}`));
  });
});
