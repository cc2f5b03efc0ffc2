import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { agentDesk, customerPage, screenshot, useE2E, waitForCount } from './browser';

const badge = (page: Page) => page.getByTestId('reply-window');

describe('the reply window beside the composer', () => {
  const env = useE2E();

  it('says what is left in hours, minutes and replies, amber then red, with the right reason', async () => {
    const { s, browser } = env;
    const agent = await agentDesk(browser, s, '客服小吴');
    const desk = agent.page;

    // Entered only: one minute, two replies, said as such.
    const entering = (await customerPage(browser, s, 'oWindowEntry', '钱七')).page;
    await entering.getByTestId('enter-button').click();
    await desk.getByTestId('queue-item').getByTestId('accept-button').click();
    await desk.locator('[data-testid="chat-state"][data-state="active"]').waitFor();
    await expect.poll(() => badge(desk).textContent()).toContain('客户刚进入会话');
    await expect(badge(desk).getAttribute('data-level')).resolves.not.toBe('ok');
    await screenshot(desk, 'window-entry');

    // The minute runs out (the page's clock jumps ahead): it is not "48 hours without a message".
    await desk.clock.setFixedTime(Date.now() + 61_000);
    const blocked = desk.getByTestId('composer-blocked');
    await expect.poll(() => blocked.getAttribute('data-reason')).toBe('windowEntryExpired');
    await expect(blocked.textContent()).resolves.toContain('1 分钟内没有发言');
    // The jump looks like a silent socket to the heartbeat: let the console reconnect first.
    await desk.getByTestId('connection-banner').waitFor({ state: 'hidden', timeout: 30_000 });
    await screenshot(desk, 'window-entry-expired');
    await desk.clock.setFixedTime(Date.now());

    // A customer message: 5 replies for 48 hours, green; amber at 2 left, red at 1.
    const writing = (await customerPage(browser, s, 'oWindowWrite', '孙八')).page;
    await writing.getByTestId('text-input').fill('请问什么时候发货？');
    await writing.getByTestId('send-button').click();
    await desk.getByTestId('tab-queue').click();
    await desk.getByTestId('queue-item').getByTestId('accept-button').click();
    await expect.poll(() => badge(desk).getAttribute('data-level')).toBe('ok');
    await expect(badge(desk).textContent()).resolves.toMatch(/可回复 5 条 · 还剩 4[78] 小时/);
    await screenshot(desk, 'window-ok');
    const composer = desk.getByTestId('composer-input');
    const sent = '[data-testid="message"][data-direction="out"][data-delivery="sent"]';
    for (const [i, text] of ['今天下午发货', '顺丰快递', '单号稍后发您'].entries()) {
      await composer.fill(text);
      await composer.press('Enter');
      await waitForCount(desk, sent, i + 1);
    }
    await expect.poll(() => badge(desk).getAttribute('data-level')).toBe('warn');
    await screenshot(desk, 'window-warn');
    await composer.fill('还有其他问题吗？');
    await composer.press('Enter');
    await waitForCount(desk, sent, 4);
    await expect.poll(() => badge(desk).getAttribute('data-level')).toBe('danger');
    await expect(badge(desk).textContent()).resolves.toContain('可回复 1 条');
    await screenshot(desk, 'window-danger');
  });
});
