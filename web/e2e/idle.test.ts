import { describe, expect, it } from 'vitest';
import { agentDesk, useE2E, screenshot, waitForCount } from './browser';

describe('idle, re-accept and the closed reply window', () => {
  const env = useE2E();

  it('30 quiet minutes → 需重新接入 → one click and the composer works again', async () => {
    const { s, browser } = env;
    const { page } = await agentDesk(browser, s, '客服小王');
    await s.sim.enterSession(s.channel.appId, 'oIdle0001', 'product:2002');
    await s.sim.sendText(s.channel.appId, 'oIdle0001', '我的订单什么时候发货？');
    await page.getByTestId('accept-button').click();
    const composer = page.getByTestId('composer-input');
    await composer.fill('您好，我帮您查一下。');
    await composer.press('Enter');
    const sent = '[data-testid="message"][data-direction="out"][data-delivery="sent"]';
    await waitForCount(page, sent, 1);

    // The agent stays connected (presence holds) while the conversation sits quiet.
    // The page's clock moves with the server's, as a real one would have.
    s.clock.advance(31 * 60_000);
    await page.clock.setSystemTime(s.clock.now());
    await s.app.kefu.workers.sweep();
    const item = page.locator('[data-testid="mine-item"][data-state="idle"]');
    await item.getByTestId('needs-reaccept').waitFor();
    await expect(item.getByTestId('needs-reaccept').textContent()).resolves.toContain('需重新接入');
    await page.locator('[data-testid="chat-state"][data-state="idle"]').waitFor();
    await page.getByTestId('reaccept-current').waitFor();
    await expect(composer.count()).resolves.toBe(0);
    await page.locator('[data-testid="context-line"][data-event="idled"]').waitFor();
    // The reply window counts down with the clock: 31 of its 48 hours are gone.
    await page
      .getByTestId('customer-panel')
      .getByText(/剩余 47:(29|30)/)
      .waitFor();
    await screenshot(page, 'idle');

    await item.getByTestId('reaccept-button').click();
    await page.locator('[data-testid="chat-state"][data-state="active"]').waitFor();
    await page.locator('[data-testid="mine-item"][data-state="active"]').waitFor();
    await page.locator('[data-testid="context-line"][data-event="reaccepted"]').waitFor();
    await composer.fill('已经发货了，预计明天送达。');
    await composer.press('Enter');
    await waitForCount(page, sent, 2);
    expect(s.sim.inbox(s.channel.appId, 'oIdle0001').map((m) => m.text)).toEqual([
      '您好，我帮您查一下。',
      '已经发货了，预计明天送达。',
    ]);

    // 49 hours without a word from the customer: WeChat's 48-hour window is shut.
    s.clock.advance(49 * 3600_000);
    await page.clock.setSystemTime(s.clock.now());
    const blocked = page.getByTestId('composer-blocked');
    await blocked.waitFor();
    await expect(blocked.getAttribute('data-reason')).resolves.toBe('windowExpired');
    await expect(blocked.textContent()).resolves.toContain('48 小时');
    await expect(composer.isDisabled()).resolves.toBe(true);
    await expect(page.getByTestId('send-button').isDisabled()).resolves.toBe(true);
    await expect(page.getByTestId('image-button').isDisabled()).resolves.toBe(true);
    await screenshot(page, 'window-closed');
  });
});
