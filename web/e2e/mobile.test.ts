import { describe, expect, it } from 'vitest';
import { PHONE, agentDesk, screenshot, useE2E, waitForCount } from './browser';

describe('the desk on a phone (客服小助手)', () => {
  const env = useE2E();

  it('list ↔ chat: accept, reply, and back to the list', async () => {
    const { s, browser } = env;
    const { page } = await agentDesk(browser, s, '客服小李', PHONE);
    await s.sim.enterSession(s.channel.appId, 'oPhone0001', 'product:3003');
    await s.sim.sendText(s.channel.appId, 'oPhone0001', '请问今天下单什么时候发货？');
    await s.sim.sendText(s.channel.appId, 'oPhone0002', '能开发票吗？');

    // The list fills the screen; no chat next to it.
    const item = page.getByTestId('queue-item').first();
    await expect.poll(() => page.getByTestId('queue-item').count()).toBe(2);
    await expect(page.getByTestId('chat-panel').count()).resolves.toBe(0);
    const box = (await page.getByTestId('conversation-list').boundingBox())!;
    expect(box.width).toBeGreaterThan(380);
    await screenshot(page, 'mobile-list');

    // Tap the oldest customer: the chat replaces the list.
    await item.tap();
    await page.getByTestId('chat-panel').waitFor();
    await expect(page.getByTestId('conversation-list').count()).resolves.toBe(0);
    await page.getByTestId('accept-current').tap();
    await page.locator('[data-testid="chat-state"][data-state="active"]').waitFor();
    await page
      .locator('[data-testid="message"][data-direction="in"]')
      .filter({ hasText: '什么时候发货' })
      .waitFor();

    const input = page.getByTestId('composer-input');
    await input.tap();
    await input.fill('今天 16 点前下单当天发货。');
    await page.getByTestId('composer').getByTestId('send-button').tap();
    await waitForCount(
      page,
      '[data-testid="message"][data-direction="out"][data-delivery="sent"]',
      1,
    );
    expect(s.sim.inbox(s.channel.appId, 'oPhone0001').map((m) => m.text)).toEqual([
      '今天 16 点前下单当天发货。',
    ]);
    // Thumb-reachable: the composer and the send button sit in the lower part of the screen.
    const send = (await page.getByTestId('composer').getByTestId('send-button').boundingBox())!;
    expect(send.y).toBeGreaterThan(844 * 0.75);
    await screenshot(page, 'mobile-chat');

    // Back: the list again, with the conversation under 我的会话 and one still waiting.
    await page.getByTestId('back-button').tap();
    await page.getByTestId('conversation-list').waitFor();
    await expect(page.getByTestId('chat-panel').count()).resolves.toBe(0);
    await expect.poll(() => page.getByTestId('mine-item').count()).toBe(1);
    await expect(page.getByTestId('tab-queue-count').textContent()).resolves.toContain('1');
  });
});
