import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { agentDesk, useE2E, setStatus } from './browser';

/**
 * Records every browser notification the console shows, and makes the page look like it sits
 * behind another window (the console only notifies when the agent is not looking at it).
 */
function spyOnNotifications(): void {
  const shown: string[] = [];
  (window as unknown as { shownNotifications: string[] }).shownNotifications = shown;
  class Spy {
    static permission: NotificationPermission = 'granted';
    static requestPermission = () => Promise.resolve('granted' as NotificationPermission);
    onclick: (() => void) | null = null;
    constructor(title: string, opts?: NotificationOptions) {
      shown.push(`${title}|${opts?.body ?? ''}`);
    }
    close(): void {}
  }
  Object.defineProperty(window, 'Notification', { value: Spy, configurable: true });
  Document.prototype.hasFocus = () => false;
}

const shown = (page: Page) =>
  page.evaluate(() => (window as unknown as { shownNotifications: string[] }).shownNotifications);

describe('reminders follow the status', () => {
  const env = useE2E();

  it('online: a new customer badges the title and notifies; away: nothing', async () => {
    const { s, browser } = env;
    const { page, context } = await agentDesk(browser, s, '客服小王', { online: false });
    await context.grantPermissions(['notifications']);
    await context.addInitScript(spyOnNotifications);
    await page.reload();
    await setStatus(page, 'online');
    await expect.poll(() => page.title()).toBe('客服台');

    await s.sim.sendText(s.channel.appId, 'oRemind01', '第一位客户');
    await expect.poll(() => page.title()).toBe('(1) 客服台');
    await expect.poll(() => shown(page)).toEqual(['新客户等待接入|访客 ND01：第一位客户']);

    // Away: the badge goes, and a second customer neither badges nor notifies.
    await setStatus(page, 'away');
    await expect.poll(() => page.title()).toBe('客服台');
    await s.sim.sendText(s.channel.appId, 'oRemind02', '第二位客户');
    await expect.poll(() => page.getByTestId('queue-item').count()).toBe(2);
    await expect(page.getByTestId('tab-queue-count').textContent()).resolves.toContain('2');
    expect(await page.title()).toBe('客服台');
    expect(await shown(page)).toHaveLength(1);

    // Back online the badge counts everyone waiting; nothing new arrived, so no notification.
    await setStatus(page, 'online');
    await expect.poll(() => page.title()).toBe('(2) 客服台');
    expect(await shown(page)).toHaveLength(1);
  });

  it('a new message in an own conversation that is not in front notifies too', async () => {
    const { s, browser } = env;
    const { page, context } = await agentDesk(browser, s, '客服小李', { online: false });
    await context.grantPermissions(['notifications']);
    await context.addInitScript(spyOnNotifications);
    await page.reload();
    await setStatus(page, 'online');
    await s.sim.sendText(s.channel.appId, 'oRemindMsgA', '我是客户甲');
    await page
      .getByTestId('queue-item')
      .filter({ hasText: '我是客户甲' })
      .getByTestId('accept-button')
      .click();
    await page.getByTestId('mine-item').filter({ hasText: '我是客户甲' }).click();
    await s.sim.sendText(s.channel.appId, 'oRemindMsgB', '我是客户乙');
    await page.getByTestId('tab-queue').click();
    await page
      .getByTestId('queue-item')
      .filter({ hasText: '我是客户乙' })
      .getByTestId('accept-button')
      .click();
    await page.getByTestId('mine-item').filter({ hasText: '我是客户乙' }).click();
    // 乙 is in front; 甲 writes again.
    await s.sim.sendText(s.channel.appId, 'oRemindMsgA', '甲的新消息');
    await expect
      .poll(async () => (await shown(page)).filter((n) => n.startsWith('客户发来新消息')))
      .toEqual(['客户发来新消息|访客 MSGA 发来了新消息']);
  });
});
