import { USAGE_RULES_VERSION, type AuditEntry, type AuditPage } from '@kefu/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace } from '../src/modules/admin/workspace-service';
import { ApiClient } from './api-client';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';

const qs = (q: Record<string, string | number | undefined>) =>
  new URLSearchParams(
    Object.entries(q).flatMap(([k, v]): [string, string][] =>
      v === undefined ? [] : [[k, String(v)]],
    ),
  ).toString();

describe.each(DIALECTS)('audit log (%s)', (dialect) => {
  let s: Stack;
  const page = (q: Record<string, string | number | undefined> = {}, who?: ApiClient) =>
    (who ?? s.owner).get<AuditPage>(`/api/admin/audit?${qs({ limit: 200, ...q })}`);
  /** The entries about one target, oldest first. */
  const about = async (targetId: string) =>
    (await page({ q: targetId })).items.filter((e) => e.targetId === targetId).reverse();
  const total = async () =>
    Number(
      (
        await s.app.kefu.ctx.db
          .selectFrom('auditLog')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const queued = (agent: ApiClient, openid: string) =>
    waitFor(
      async () =>
        (await agent.get('/api/conversations?state=queued')).items.find(
          (c: any) => c.customer.openid === openid,
        ),
      10_000,
      `queued ${openid}`,
    );

  beforeAll(async () => {
    s = await startStack(dialect);
  });
  afterAll(() => s?.close());

  it('records sign-in (with the address), a failed sign-in, and sign-out; an unknown login writes nothing', async () => {
    const agent = await s.agent('signer', { online: false });
    const rows = await about(agent.agentId);
    expect(rows.map((r) => r.action)).toEqual(['agent.create', 'auth.sign_in']);
    expect(rows[1]).toMatchObject({ actorId: agent.agentId, actorName: 'signer', ip: '127.0.0.1' });
    const me = await agent.get('/api/me');
    const bad = await agent.fails(
      new ApiClient(s.url, '').post('/api/auth/login', {
        login: me.agent.login,
        password: 'nope-nope',
      }),
    );
    expect(bad.body.code).toBe('AUTH_INVALID_CREDENTIALS');
    const before = await total();
    await agent.fails(
      new ApiClient(s.url, '').post('/api/auth/login', {
        login: 'nobody-here',
        password: 'x'.repeat(9),
      }),
    );
    expect(await total()).toBe(before);
    await agent.post('/api/auth/logout');
    const after = await about(agent.agentId);
    expect(after.slice(2).map((r) => [r.action, r.details])).toEqual([
      ['auth.sign_in_failed', { reason: 'wrong_password' }],
      ['auth.sign_out', {}],
    ]);
  });

  it('records accept, transfer and close with actor and target; a lost accept writes none', async () => {
    const [a, b] = [await s.agent('conv-a'), await s.agent('conv-b')];
    await s.sim.sendText(s.channel.appId, 'o-audit-1', '你好');
    const conv = await queued(a, 'o-audit-1');
    await a.post(`/api/conversations/${conv.id}/accept`);
    const before = await total();
    expect((await b.fails(b.post(`/api/conversations/${conv.id}/accept`))).status).toBe(409);
    expect(await total()).toBe(before);
    await a.post(`/api/conversations/${conv.id}/transfer`, { agentId: b.agentId, note: '请接手' });
    await b.post(`/api/conversations/${conv.id}/close`);
    const rows = await about(conv.id);
    expect(rows.map((r) => [r.action, r.actorId, r.targetType])).toEqual([
      ['conversation.accept', a.agentId, 'conversation'],
      ['conversation.transfer', a.agentId, 'conversation'],
      ['conversation.close', b.agentId, 'conversation'],
    ]);
    expect(rows[1]!.details).toEqual({
      fromAgentId: a.agentId,
      toAgentId: b.agentId,
      note: '请接手',
    });
  });

  it('records auto-assign as the system, and status and my-settings changes as the agent', async () => {
    const auto = await s.agent('auto', { online: false });
    await auto.put('/api/me/settings', { autoAccept: true });
    await auto.put('/api/me/status', { status: 'online' });
    await s.sim.sendText(s.channel.appId, 'o-audit-auto', '在吗');
    const conv = await waitFor(async () =>
      (await auto.get('/api/conversations?state=active&mine=1')).items.find(
        (c: any) => c.customer.openid === 'o-audit-auto',
      ),
    );
    const assigned = await waitFor(async () => (await about(conv.id))[0]);
    expect(assigned).toMatchObject({
      action: 'conversation.auto_assign',
      actorId: null,
      actorName: 'system',
      details: { agentId: auto.agentId },
    });
    const mine = (await about(auto.agentId)).map((r) => [r.action, r.details]);
    expect(mine).toContainEqual(['agent.my_settings', { autoAccept: true }]);
    expect(mine).toContainEqual(['agent.status_change', { from: 'offline', to: 'online' }]);
    await auto.put('/api/me/settings', { autoAccept: false });
    await auto.post(`/api/conversations/${conv.id}/close`);
  });

  it('records admin actions on agents, channels, bindings, quick replies and settings, never secrets', async () => {
    const agent = await s.agent('managed', { online: false });
    const ownerId = (await s.owner.get('/api/me')).agent.id as string;
    await s.owner.patch(`/api/agents/${agent.agentId}`, { displayName: 'managed-2', capacity: 3 });
    await s.owner.post(`/api/agents/${agent.agentId}/password`, { password: 'new-pass-123' });
    await s.owner.patch(`/api/agents/${agent.agentId}`, { disabled: true });
    expect((await about(agent.agentId)).map((r) => [r.action, r.actorId])).toEqual([
      ['agent.create', ownerId],
      ['auth.sign_in', agent.agentId],
      ['agent.update', ownerId],
      ['agent.password_reset', ownerId],
      ['agent.disable', ownerId],
    ]);
    const ch = await s.owner.post<{ id: string }>('/api/channels', {
      name: '第二家店',
      appId: 'wxaudit12345678',
      originalId: 'gh_audit1',
      appSecret: 'secret-secret-1',
      token: 'tokAudit1',
      mode: 'plaintext',
    });
    // The mode goes along: PATCH fills omitted fields with create's defaults (reported).
    await s.owner.patch(`/api/channels/${ch.id}`, {
      appSecret: 'another-secret-2',
      contentCheck: true,
      mode: 'plaintext',
    });
    const before = await total();
    await s.owner.fails(
      s.owner.put(`/api/channels/${ch.id}/agents`, { agentIds: ['no-such-agent'] }),
    );
    expect(await total()).toBe(before);
    const bound = await s.agent('bindee', { online: false });
    await s.owner.put(`/api/channels/${ch.id}/agents`, { agentIds: [bound.agentId] });
    await s.owner.request('DELETE', `/api/channels/${ch.id}`);
    const rows = await about(ch.id);
    expect(rows.map((r) => r.action)).toEqual([
      'channel.create',
      'channel.update',
      'channel.bindings',
      'channel.delete',
    ]);
    expect(rows[1]!.details).toMatchObject({ name: '第二家店' });
    // What changed, not what was sent: the mode was sent unchanged.
    expect((rows[1]!.details as { fields: string[] }).fields).toEqual([
      'appSecret',
      'contentCheck',
    ]);
    expect(rows[2]!.details).toEqual({ added: [bound.agentId], removed: [] });
    expect(JSON.stringify(rows)).not.toContain('secret-secret-1');
    expect(JSON.stringify(rows)).not.toContain('another-secret-2');
    const qr = await s.owner.post<{ id: string }>('/api/quick-replies', {
      shortcut: 'hi',
      text: '您好',
    });
    await s.owner.request('DELETE', `/api/quick-replies/${qr.id}`);
    expect((await about(qr.id)).map((r) => r.action)).toEqual([
      'quick_reply.create',
      'quick_reply.delete',
    ]);
    await s.owner.put('/api/settings', { sensitiveWords: ['违禁'] });
    expect((await about(s.workspaceId)).at(-1)).toMatchObject({
      action: 'workspace.settings',
      details: { sensitiveWords: 1 },
    });
  });

  it('records the usage-rules acknowledgement once per version', async () => {
    const agent = await s.agent('reader', { online: false });
    expect(await agent.get('/api/me/usage-rules')).toEqual({
      version: USAGE_RULES_VERSION,
      ackedVersion: null,
      ackedAt: null,
    });
    const wrong = await agent.fails(
      agent.post('/api/me/usage-rules/ack', { version: '1999-01-01' }),
    );
    expect(wrong.status).toBe(400);
    const acked = await agent.post('/api/me/usage-rules/ack', { version: USAGE_RULES_VERSION });
    expect(acked.ackedVersion).toBe(USAGE_RULES_VERSION);
    await agent.post('/api/me/usage-rules/ack', { version: USAGE_RULES_VERSION });
    expect((await agent.get('/api/me/usage-rules')).ackedAt).toBe(acked.ackedAt);
    const acks = (await page({ actor: agent.agentId, action: 'agent.rules_ack' })).items;
    expect(acks).toHaveLength(1);
    expect(acks[0]).toMatchObject({ targetType: 'usage_rules', targetId: USAGE_RULES_VERSION });
  });

  it('filters by actor, action, time and text, and pages newest first without gaps', async () => {
    const agent = await s.agent('pager', { online: false });
    for (let i = 0; i < 5; i++) await agent.put('/api/me/settings', { capacity: i + 1 });
    const all = (await page({ actor: agent.agentId })).items;
    expect(all.map((e) => e.action)).toEqual([
      ...Array(5).fill('agent.my_settings'),
      'auth.sign_in',
    ]);
    expect(all.every((e, i) => i === 0 || all[i - 1]!.at >= e.at)).toBe(true);
    const seen: AuditEntry[] = [];
    let before: string | undefined;
    for (;;) {
      const p = await page({ actor: agent.agentId, limit: 2, before });
      seen.push(...p.items);
      if (!p.next) break;
      before = p.next;
    }
    expect(seen.map((e) => e.id)).toEqual(all.map((e) => e.id));
    const onlySettings = await page({ actor: agent.agentId, action: 'agent.my_settings' });
    expect(onlySettings.items).toHaveLength(5);
    const last = all[0]!;
    expect((await page({ actor: agent.agentId, from: last.at })).items[0]!.id).toBe(last.id);
    expect((await page({ actor: agent.agentId, to: all.at(-1)!.at })).items).toHaveLength(0);
    expect((await page({ q: agent.agentId.toUpperCase() })).items.length).toBeGreaterThanOrEqual(6);
    expect((await page({ q: '100%_' })).items).toHaveLength(0);
    const bad = await s.owner.fails(s.owner.get('/api/admin/audit?action=agent.explode'));
    expect(bad.status).toBe(400);
  });

  it('shows only the caller’s workspace, and only to owners and admins', async () => {
    const ctx = s.app.kefu.ctx;
    await createWorkspace(ctx, {
      name: 'Other shop',
      login: `other-${dialect}`,
      password: 'other-pass-1',
    });
    const other = await ApiClient.login(s.url, `other-${dialect}`, 'other-pass-1');
    const theirs = (await page({}, other)).items;
    expect(theirs.length).toBeGreaterThan(0);
    expect(theirs.every((e) => e.actorId === other.agentId)).toBe(true);
    const mine = (await page()).items;
    expect(mine.some((e) => e.actorId === other.agentId)).toBe(false);
    // Filtering by another workspace's agent finds nothing either.
    expect((await page({ actor: other.agentId })).items).toHaveLength(0);
    const plain = await s.agent('plain', { online: false });
    expect((await plain.fails(page({}, plain))).status).toBe(403);
    const sup = await s.agent('sup', { online: false });
    await s.owner.patch(`/api/agents/${sup.agentId}`, { role: 'supervisor' });
    expect((await sup.fails(page({}, sup))).body.code).toBe('AUTH_FORBIDDEN');
  });
});
