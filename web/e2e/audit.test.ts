import { USAGE_RULES_VERSION } from '@kefu/shared';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApiClient } from '../../server/test/api-client';
import { waitFor } from '../../server/test/harness';
import { acceptUsageRules, agentDesk, newPage, screenshot, signIn, useE2E } from './browser';

describe('usage rules and the audit log', () => {
  const env = useE2E();

  it('shows the usage rules once at an agent’s first sign-in and stores the acknowledgement', async () => {
    const { s, browser } = env;
    const login = `rules-${randomBytes(3).toString('hex')}`;
    const agent = await s.owner.post<{ id: string }>('/api/agents', {
      login,
      displayName: '小李',
      password: 'kefu-pass-1',
      channelIds: [s.channel.id],
    });
    const { page, context } = await newPage(browser);
    await signIn(page, s.url, login, 'kefu-pass-1', { keepUsageRules: true });
    const dialog = page.getByTestId('usage-rules-ack');
    await dialog.waitFor();
    await page.getByText('微信小程序客服消息使用规范').first().waitFor();
    await screenshot(page, 'usage-rules-dialog');
    await acceptUsageRules(page);
    const rows = await s.app.kefu.ctx.db
      .selectFrom('rulesAcks')
      .selectAll()
      .where('agentId', '=', agent.id)
      .execute();
    expect(rows.map((r) => r.version)).toEqual([USAGE_RULES_VERSION]);
    // Acknowledged once: a reload (or the next sign-in) does not ask again.
    await page.reload();
    await page.locator('html[data-usage-rules="acked"]').waitFor({ state: 'attached' });
    expect(await page.getByTestId('usage-rules-ack').isVisible()).toBe(false);
    await context.close();
  });

  it('lists what admins and agents did, translated, with filters', async () => {
    const { s, browser } = env;
    // An agent at work (through the API): accept a customer's conversation, then end it.
    await s.owner.post('/api/agents', {
      login: 'xiaowang',
      displayName: '小王',
      password: 'kefu-pass-1',
      channelIds: [s.channel.id],
    });
    const wang = await ApiClient.login(s.url, 'xiaowang', 'kefu-pass-1');
    await wang.put('/api/me/status', { status: 'online' });
    await s.sim.sendText(s.channel.appId, 'o-audit-e2e', '请问什么时候发货？');
    const conv = await waitFor(async () =>
      (await wang.get('/api/conversations?state=queued')).items.find(
        (c: { customer: { openid: string } }) => c.customer.openid === 'o-audit-e2e',
      ),
    );
    await wang.post(`/api/conversations/${conv.id}/accept`);
    await wang.post(`/api/conversations/${conv.id}/close`);
    const { page } = await newPage(browser);
    await signIn(page, s.url, s.ownerLogin, 'owner-pass-1');

    // Two admin actions through the console: a quick reply, and the content check switched on
    // in the mini program's form, next to WeChat's usage rules.
    await page.goto(`${s.url}/admin/quick-replies`);
    await page.getByTestId('qr-shortcut').fill('hi');
    await page.getByTestId('qr-text').fill('您好，请问有什么可以帮您？');
    await page.getByTestId('qr-add').click();
    await page.getByTestId('qr-table').getByText('/hi').waitFor();
    await page.getByTestId('admin-nav-channels').click();
    await page.getByTestId('channel-table').getByRole('button', { name: '编辑' }).first().click();
    await page.getByTestId('usage-rules').waitFor();
    await page.getByTestId('channel-content-check').click();
    await page.getByTestId('channel-fail-closed').waitFor();
    await page.getByTestId('usage-rules').scrollIntoViewIfNeeded();
    await screenshot(page, 'admin-channel-usage-rules');
    await page.getByTestId('channel-save').click();
    await page.getByTestId('channel-save').waitFor({ state: 'hidden' });

    // A fresh load: the save's toast would cover the filters in the picture.
    await page.goto(`${s.url}/admin`);
    await page.getByTestId('admin-nav-audit').click();
    await page.waitForURL('**/admin/audit');
    const table = page.getByTestId('audit-table');
    await table.getByText('修改小程序').first().waitFor();
    await table.getByText('添加快捷回复').first().waitFor();
    await table.getByText('登录', { exact: true }).first().waitFor();
    await table.getByText('结束会话').first().waitFor();
    await screenshot(page, 'admin-audit');

    // Only quick-reply additions.
    await page.getByTestId('audit-action').click();
    await page.getByRole('option', { name: '添加快捷回复' }).click();
    await page.getByTestId('audit-apply').click();
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll('[data-action]')].every(
          (e) => e.getAttribute('data-action') === 'quick_reply.create',
        ) && document.querySelectorAll('[data-action]').length > 0,
    );
    expect(await table.locator('[data-action]').count()).toBe(1);
    await expect(table.getByText('shortcut: hi').textContent()).resolves.toContain('hi');
    await screenshot(page, 'admin-audit-filtered', { forDocs: false });
  });

  it('tells the agent in Chinese when WeChat’s content check finds a reply risky', async () => {
    const { s, browser } = env;
    await s.owner.patch(`/api/channels/${s.channel.id}`, { contentCheck: true, mode: 'safe' });
    s.sim.security.setContentRules(s.channel.appId, { risky: ['博彩'] });
    const { page } = await agentDesk(browser, s, '小赵');
    await s.sim.sendText(s.channel.appId, 'o-risky-e2e', '有优惠吗？');
    await page.getByTestId('queue-item').getByTestId('accept-button').click();
    await page.locator('[data-testid="chat-state"][data-state="active"]').waitFor();
    await page.getByTestId('composer-input').fill('推荐你一个博彩网站');
    await page.getByTestId('composer-input').press('Enter');
    await page.locator('.kefu-toast', { hasText: '微信内容安全检测认为这条消息有风险' }).waitFor();
    // Nothing went out, and the text is still there to be rewritten.
    expect(await page.locator('[data-testid="message"][data-direction="out"]').count()).toBe(0);
    await expect(page.getByTestId('composer-input').inputValue()).resolves.toBe(
      '推荐你一个博彩网站',
    );
    expect(s.sim.sends(s.channel.appId)).toEqual([]);
    await screenshot(page, 'desk-content-risky', { forDocs: false, toasts: true });
    await s.owner.patch(`/api/channels/${s.channel.id}`, { contentCheck: false, mode: 'safe' });
  });
});
