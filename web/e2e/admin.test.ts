import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { screenshot, newPage, signIn, useE2E } from './browser';

const hex = (n: number) => randomBytes(n).toString('hex');

describe('the shop admin pages', () => {
  const env = useE2E();

  it('adds a mini program, an agent and its bindings, a quick reply and the rules', async () => {
    const { s, browser } = env;
    // What KEFU_PUBLIC_URL says in production; the stack only learns its port once listening.
    s.app.kefu.ctx.config.publicUrl = s.url;
    const { page } = await newPage(browser);
    await signIn(page, s.url, s.ownerLogin, 'owner-pass-1');
    await page.getByTestId('nav-admin').click();
    await page.waitForURL('**/admin/channels');
    await page.getByTestId('channel-table').getByText('演示小程序').waitFor();

    // 添加小程序: the credentials from WeChat's console; the API base points at the emulator.
    const app = {
      appId: `wx${hex(8)}`,
      originalId: `gh_${hex(6)}`,
      appSecret: `secret${hex(8)}`,
      token: `tok${hex(6)}`,
      encodingAesKey: randomBytes(33)
        .toString('base64')
        .replace(/[^A-Za-z0-9]/g, 'x')
        .slice(0, 43),
    };
    await page.getByTestId('channel-add').click();
    await page.getByTestId('channel-name').fill('新品旗舰店');
    await page.getByTestId('channel-appid').fill(app.appId);
    await page.getByTestId('channel-original-id').fill(app.originalId);
    await page.getByTestId('channel-secret').fill(app.appSecret);
    await page.getByTestId('channel-token').fill(app.token);
    await page.getByTestId('channel-aes-key').fill(app.encodingAesKey);
    await page.getByTestId('channel-mode').getByText('安全模式').click();
    await page.getByTestId('channel-format').getByText('JSON').click();
    await page.getByTestId('channel-api-base').fill(s.sim.url!);
    await screenshot(page, 'admin-channel-form');
    await page.getByTestId('channel-save').click();

    // The push settings to paste into WeChat: URL and Token (and the key just entered).
    const pushUrl = await page.getByTestId('push-url').textContent();
    expect(pushUrl).toMatch(new RegExp(`^${s.url}/wechat/[0-9a-f-]{36}$`));
    await expect(page.getByTestId('push-token').textContent()).resolves.toBe(app.token);
    await expect(page.getByTestId('push-aes-key').textContent()).resolves.toBe(app.encodingAesKey);
    await screenshot(page, 'admin-push-info');
    // "WeChat's console": the emulator gets the same settings and checks the URL like WeChat.
    s.sim.addApp({ ...app, mode: 'safe', format: 'json', pushUrl: pushUrl! });
    expect((await s.sim.verifyPushUrl(app.appId)).ok).toBe(true);
    await page.getByRole('dialog').getByRole('button', { name: '确定' }).click();

    // 测试: the credentials work against the (emulated) token endpoint.
    const row = page.locator('.el-table__row', { hasText: app.appId });
    await row.getByTestId('channel-test').click();
    await page.locator('.kefu-toast', { hasText: '凭据有效' }).waitFor();
    await expect(row.getByTestId('channel-agent-count').textContent()).resolves.toMatch(
      /\d+ \/ 100/,
    );
    await screenshot(page, 'admin-channels');

    // 客服: create one bound to Demo shop only, then bind them to the new mini program too.
    await page.getByTestId('admin-nav-agents').click();
    await page.getByTestId('agent-add').click();
    await page.getByTestId('agent-display-name').fill('客服小张');
    await page.getByTestId('agent-login').fill('xiaozhang');
    await page.getByTestId('agent-password').fill('kefu-pass-1');
    await page.getByTestId('agent-form').getByText('新品旗舰店').click();
    await page.getByTestId('agent-save').click();
    const agentRow = page.locator('.el-table__row', { hasText: 'xiaozhang' });
    await agentRow.getByText('演示小程序').waitFor();
    await agentRow.getByTestId('agent-bind').click();
    const dialog = page.getByTestId('agent-channels');
    await dialog.getByText('新品旗舰店').click();
    await expect
      .poll(() => dialog.locator('.row', { hasText: '新品旗舰店' }).textContent())
      .toMatch(/已绑定 1 \/ 100/);
    await page.getByTestId('agent-channels-save').click();
    await agentRow.getByText('新品旗舰店').waitFor();
    await screenshot(page, 'admin-agents');

    // The same binding seen from the mini program, with the 100-agent limit.
    await page.getByTestId('admin-nav-channels').click();
    await page
      .locator('.el-table__row', { hasText: app.appId })
      .getByTestId('channel-bind')
      .click();
    const count = page.getByTestId('bind-count');
    await expect.poll(() => count.textContent()).toMatch(/已绑定 1 \/ 100/);
    await page.getByTestId('bind-list').getByText('xiaozhang').waitFor();
    await screenshot(page, 'admin-bind');
    await page.getByTestId('bind-save').click();
    await count.waitFor({ state: 'hidden' });

    // 快捷回复.
    await page.getByTestId('admin-nav-quick-replies').click();
    await page.getByTestId('qr-shortcut').fill('ship');
    await page.getByTestId('qr-text').fill('亲，您的订单已发货，物流单号可在「我的订单」里查看。');
    await page.getByTestId('qr-add').click();
    await page.getByTestId('qr-table').getByText('/ship').waitFor();
    await screenshot(page, 'admin-quick-replies');

    // 规则: idle minutes per mini program and the sensitive words.
    await page.getByTestId('admin-nav-rules').click();
    await expect.poll(() => page.getByTestId('idle-row').count()).toBe(2);
    await page.getByTestId('sensitive-words').fill('加微信\n私下转账');
    await page.getByTestId('sensitive-words-save').click();
    await page.locator('.kefu-toast', { hasText: '已保存' }).first().waitFor();
    await screenshot(page, 'admin-rules');
    expect((await s.owner.get('/api/settings')).sensitiveWords).toEqual(['加微信', '私下转账']);

    // The new mini program works end to end: a customer's message lands in Kefu.
    await s.sim.sendText(app.appId, 'oNewShop01', '新店开业有优惠吗？');
    const queued = (await s.owner.get('/api/conversations?state=queued')).items;
    expect(queued.map((c: any) => c.lastPreview)).toContain('新店开业有优惠吗？');
    const agents = (await s.owner.get('/api/agents')).items;
    const zhang = agents.find((a: any) => a.login === 'xiaozhang');
    expect(zhang.channels).toHaveLength(2);

    // 接入设置 as the new agent sees it; a taller window shows all of it.
    const agent = await newPage(browser, { viewport: { width: 1366, height: 900 } });
    await signIn(agent.page, s.url, 'xiaozhang', 'kefu-pass-1');
    await agent.page.getByTestId('nav-settings').click();
    await agent.page.getByTestId('setting-auto-accept').waitFor();
    await agent.page.getByTestId('setting-channels').getByText('新品旗舰店').waitFor();
    await screenshot(agent.page, 'settings');
  });
});
