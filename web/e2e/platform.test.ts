import { generateAppConfig } from '@kefu/wechat-sim';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newPage, screenshot, signIn, useE2E } from './browser';

const hex = (n: number) => randomBytes(n).toString('hex');

describe('the third-party platform page', () => {
  const env = useE2E();

  it('configures the platform, shows the ticket, and authorizes a shop through the link', async () => {
    const { s, browser } = env;
    // What KEFU_PUBLIC_URL and KEFU_WECHAT_AUTH_PAGE_BASE say in production: here the emulator.
    s.app.kefu.ctx.config.publicUrl = s.url;
    s.app.kefu.ctx.config.wechatAuthPageBase = s.sim.url!;
    const { page } = await newPage(browser);
    await signIn(page, s.url, s.ownerLogin, 'owner-pass-1');
    await page.goto(`${s.url}/admin/platform`);
    await page.getByTestId('admin-nav-platform').waitFor();

    const componentAppId = `wx${hex(8)}`;
    const secret = `secret${hex(8)}`;
    await page.getByTestId('platform-add').click();
    await page.getByTestId('platform-name').fill('星河代运营');
    await page.getByTestId('platform-appid').fill('not-an-appid');
    await page.getByTestId('platform-secret').fill(secret);
    await page.getByTestId('platform-save').click();
    // The same validation as the mini-program form: nothing is sent with a malformed AppID.
    await page.getByTestId('platform-form').getByText('wx…').waitFor();
    await page.getByTestId('platform-appid').fill(componentAppId);
    await page.getByTestId('platform-api-base').fill(s.sim.url!);
    const token = await page.getByTestId('platform-token').inputValue();
    const aesKey = await page.getByTestId('platform-aes-key').inputValue();
    await page.getByTestId('platform-save').click();

    // The two URLs to paste into the open platform; the ticket has not come yet.
    const eventUrl = (await page.getByTestId('platform-event-url').textContent()) ?? '';
    const messageUrl = (await page.getByTestId('platform-message-url').textContent()) ?? '';
    expect(eventUrl).toMatch(new RegExp(`^${s.url}/wechat/component/[0-9a-f-]{36}$`));
    expect(messageUrl).toBe(`${eventUrl}/$APPID$`);
    await page.getByTestId('platform-ticket').getByText('尚未收到').waitFor();

    // "The open platform's console": the emulator gets the same settings and pushes a ticket.
    s.sim.platform.configure({
      componentAppId,
      componentSecret: secret,
      token,
      encodingAesKey: aesKey,
      eventUrl,
      messageUrl,
    });
    expect((await s.sim.platform.pushTicket(componentAppId)).acknowledged).toBe(true);
    await page.reload();
    await page.getByTestId('platform-ticket').getByText('已收到').waitFor();
    await page.getByTestId('platform-link').click();
    const link = (await page.getByTestId('platform-link-url').textContent()) ?? '';
    expect(link).toContain('/cgi-bin/componentloginpage?component_appid=');
    await screenshot(page, 'admin-platform');

    // The shop admin opens the link, picks the mini program and agrees; WeChat sends them back.
    const shop = generateAppConfig();
    s.sim.addApp(shop);
    s.sim.platform.setNickName(shop.appId, '好物小店');
    await page.goto(link);
    await page.locator('select[name=authorizer_appid]').selectOption(shop.appId);
    await page.getByRole('button', { name: '同意授权' }).click();
    await page.waitForURL('**/admin/channels?authorized=*');
    const row = page.locator('.el-table__row', { hasText: shop.appId });
    await expect(row.getByTestId('channel-origin').textContent()).resolves.toBe('第三方平台授权');
    await expect(row.getByTestId('channel-platform-state').textContent()).resolves.toContain(
      '已授权',
    );
    await row.getByText('好物小店').waitFor();
    await screenshot(page, 'admin-platform-channel');

    // Withdrawn in WeChat: the channel says so.
    await s.sim.platform.unauthorize(componentAppId, shop.appId);
    await page.reload();
    await expect(
      page
        .locator('.el-table__row', { hasText: shop.appId })
        .getByTestId('channel-platform-state')
        .textContent(),
    ).resolves.toContain('已取消授权');
  });
});
