import { describe, expect, it } from 'vitest';
import { agentDesk, customerPage, pngFile, screenshot, useE2E, waitForCount } from './browser';

describe('the desk in Chromium', () => {
  const env = useE2E();

  it('text, image and a product card in; text and image out; both sides see it all', async () => {
    const { s, browser } = env;
    await s.owner.post('/api/quick-replies', {
      shortcut: 'hi',
      text: '您好，请问有什么可以帮您？',
    });
    await s.owner.post('/api/quick-replies', { shortcut: 'stock', text: '有的，L 码还有库存。' });
    const agent = await agentDesk(browser, s, '客服小王');
    const desk = agent.page;
    const customer = (await customerPage(browser, s, 'oDeskCustomer01', '张三')).page;

    // The customer enters from a product page, then writes, sends a photo and the product card.
    await customer.getByTestId('session-from-input').fill('product:1001');
    await customer.getByTestId('enter-button').click();
    await customer.locator('[data-testid="timeline-item"][data-kind="event"]').waitFor();
    await customer.getByTestId('text-input').fill('你好，这件衣服有 L 码吗？');
    await customer.getByTestId('send-button').click();
    await customer.getByTestId('image-input').setInputFiles(pngFile('photo', [230, 80, 60]));
    await customer.getByTestId('card-button').click();
    await waitForCount(customer, '[data-testid="timeline-item"][data-direction="in"]', 4);

    // The agent sees one waiting customer with where they came from, and accepts.
    const item = desk.getByTestId('queue-item');
    await expect.poll(() => item.count()).toBe(1);
    await expect.poll(() => item.textContent()).toContain('product:1001');
    await expect
      .poll(() => item.getByTestId('queue-preview').textContent())
      .toContain('小程序卡片');
    await item.getByTestId('accept-button').click();
    await desk.locator('[data-testid="chat-state"][data-state="active"]').waitFor();

    const inbound = desk.locator('[data-testid="message"][data-direction="in"]');
    await inbound.filter({ hasText: '这件衣服有 L 码吗' }).waitFor();
    await desk.locator('[data-kind="image"] [data-testid="message-image"] img').waitFor();
    await desk.locator('[data-kind="miniprogrampage"] [data-testid="mini-card"]').waitFor();
    await expect.poll(() => desk.getByTestId('mini-card').textContent()).toContain('商品 1001');
    await desk.locator('[data-testid="context-line"][data-event="entered"]').waitFor();

    // Replies: a quick reply picked with / and sent with Enter, then an image.
    const composer = desk.getByTestId('composer-input');
    await composer.pressSequentially('/st');
    const popup = desk.getByTestId('quick-reply-popup');
    await expect.poll(() => popup.getByTestId('quick-reply-item').count()).toBe(1);
    await screenshot(desk, 'quick-reply');
    await composer.press('Enter');
    await expect(composer.inputValue()).resolves.toBe('有的，L 码还有库存。');
    await composer.press('Enter');
    await desk
      .getByTestId('composer')
      .getByTestId('image-input')
      .setInputFiles(pngFile('reply', [40, 160, 90]));
    const sent = '[data-testid="message"][data-direction="out"][data-delivery="sent"]';
    await waitForCount(desk, sent, 2);
    await expect(desk.locator(`${sent}[data-kind="image"]`).count()).resolves.toBe(1);

    // The customer's page shows both replies, once each.
    const out = customer.locator('[data-testid="timeline-item"][data-direction="out"]');
    await expect.poll(() => out.count(), { timeout: 10_000 }).toBe(2);
    await out.filter({ hasText: 'L 码还有库存' }).waitFor();
    await customer.locator('[data-direction="out"][data-kind="image"] img').waitFor();
    const inbox = s.sim.inbox(s.channel.appId, 'oDeskCustomer01');
    expect(inbox.map((m) => m.msgtype)).toEqual(['text', 'image']);

    await desk.locator('[data-testid="message-image"] img').last().waitFor();
    await screenshot(desk, 'desk');
    await screenshot(customer, 'customer-page');
  });
});
