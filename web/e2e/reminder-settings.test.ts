import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../server/src/config';
import { startRobotFake } from '../../server/test/reminder-fakes';
import { agentDesk, newPage, screenshot, signIn, useE2E } from './browser';

describe('提醒方式 on the settings page', () => {
  let robot: Awaited<ReturnType<typeof startRobotFake>>;
  // The fake robot starts first; useE2E reads this config when its own beforeAll runs.
  // The production grace period, so the guide's picture shows the default a shop sees.
  const opts: { config: ConfigInput } = { config: { presenceGraceSeconds: 60 } };
  beforeAll(async () => {
    robot = await startRobotFake();
    opts.config.wecomRobotBase = robot.origin;
  });
  afterAll(async () => {
    await robot?.close();
  });
  const env = useE2E(opts);

  it('sets a WeCom robot, refuses a foreign webhook, and sends a test reminder', async () => {
    const { s, browser } = env;
    const { page, id } = await agentDesk(browser, s, '客服小王');
    await page.getByTestId('nav-settings').click();
    const section = page.getByTestId('reminder-routes');
    await section.waitFor();
    await expect(section.textContent()).resolves.toContain('即使关闭客服台');

    // Another host is refused with a clear message, and nothing is saved.
    await page
      .getByTestId('reminder-webhook')
      .fill('https://evil.example.com/cgi-bin/webhook/send?key=0a1b2c3d-aaaa-bbbb');
    await page.getByTestId('reminder-robot-save').click();
    await page.getByText('机器人 Webhook 必须是企业微信群机器人的地址').waitFor();
    expect(
      (await s.app.kefu.ctx.db.selectFrom('reminderRoutes').selectAll().execute()).length,
    ).toBe(0);

    await page
      .getByTestId('reminder-webhook')
      .fill(`${robot.origin}/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa`);
    await page.getByTestId('reminder-mention').fill('wangxiaoer');
    await page.getByTestId('reminder-robot-save').click();
    await page.getByTestId('reminder-robot-set').waitFor();
    await expect(page.getByTestId('reminder-robot-set').textContent()).resolves.toContain('…5aaa');

    await page.getByTestId('reminder-test-wecom_robot').click();
    const result = page.getByTestId('reminder-result-wecom_robot');
    await result.waitFor();
    await expect(result.textContent()).resolves.toContain('测试提醒已发出');
    const call = robot.calls.at(-1)!;
    expect(call.key).toBe('693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa');
    expect(call.body.text.content).toContain('测试提醒');
    expect(call.body.text.mentioned_list).toEqual(['wangxiaoer']);
    await section.scrollIntoViewIfNeeded();
    // The two toasts of the steps above would cover the page in the guide's picture.
    await page.evaluate(() => document.querySelectorAll('.el-message').forEach((e) => e.remove()));
    await screenshot(page, 'settings-reminders');

    // A robot that answers an error is reported in the agent's words, with WeCom's code.
    robot.setMode('errcode', 93000);
    await page.getByTestId('reminder-test-wecom_robot').click();
    await expect.poll(() => result.textContent()).toContain('测试提醒没有送达');
    await expect(result.textContent()).resolves.toContain('93000');
    robot.setMode('ok');
    expect(id).toBeTruthy();
  });

  it('an admin chooses the presence rule there; agents see what it means', async () => {
    const { s, browser } = env;
    const { page } = await newPage(browser);
    await signIn(page, s.url, s.ownerLogin, 'owner-pass-1');
    await page.getByTestId('nav-settings').click();
    await page.getByTestId('presence-rule-grace').click();
    await expect.poll(async () => (await s.owner.get('/api/settings')).presenceRule).toBe('grace');
    await page.getByTestId('reminder-routes').getByText('秒后自动变为离线').waitFor();
    await page.getByTestId('reminder-routes').scrollIntoViewIfNeeded();
    await page.evaluate(() => document.querySelectorAll('.el-message').forEach((e) => e.remove()));
    await screenshot(page, 'settings-presence-rule');
    await page.getByTestId('presence-rule-until_logout').click();
    await expect
      .poll(async () => (await s.owner.get('/api/settings')).presenceRule)
      .toBe('until_logout');
    // An agent sees the rule's meaning but not the choice.
    const { page: agentPage } = await agentDesk(browser, s, '客服小张');
    await agentPage.getByTestId('nav-settings').click();
    await agentPage.getByTestId('reminder-routes').waitFor();
    expect(await agentPage.getByTestId('presence-rule').count()).toBe(0);
  });
});
