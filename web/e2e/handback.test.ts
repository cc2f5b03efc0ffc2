import { describe, expect, it } from 'vitest';
import { agentDesk, customerPage, newPage, screenshot, signIn, useE2E } from './browser';

describe('hand-back to WeChat’s own tool and routing rules', () => {
  const env = useE2E();

  it('an admin sets the routing rules: policy, business hours, entry patterns', async () => {
    const { s, browser } = env;
    const { page } = await newPage(browser);
    await signIn(page, s.url, s.ownerLogin, 'owner-pass-1');
    await page.getByTestId('nav-admin').click();
    await page.waitForURL('**/admin/channels');
    await page.getByTestId('channel-routing').first().click();
    const dialog = page.getByTestId('routing-dialog');
    await dialog.waitFor();
    await page.getByTestId('routing-policy-outside_hours').click();
    // Outside hours needs hours: saving stays disabled, with a sentence saying why.
    await expect(page.getByTestId('routing-save').isDisabled()).resolves.toBe(true);
    await page.getByTestId('routing-hours-on').check();
    await page.getByTestId('routing-day-0').fill('9点到6点');
    await dialog.getByText('营业时间请按 09:00-18:00 的格式填写').waitFor();
    await page.getByTestId('routing-day-0').fill('09:00-12:00, 13:30-18:00');
    await page.getByTestId('routing-add-pattern').click();
    await screenshot(page, 'admin-routing');
    await page.getByTestId('routing-save').click();
    await dialog.waitFor({ state: 'hidden' });

    const saved = await s.owner.get<{
      handbackPolicy: string;
      businessHours: { weekly: string[][] } | null;
      entryPatterns: { pattern: string; label: string }[];
    }>(`/api/channels/${s.channel.id}/routing`);
    expect(saved.handbackPolicy).toBe('outside_hours');
    expect(saved.businessHours?.weekly[0]).toEqual(['09:00-12:00', '13:30-18:00']);
    expect(saved.entryPatterns).toEqual([{ pattern: 'product:{id}', label: '商品 {id}' }]);
    // Back to a Kefu-only desk for the next test.
    await s.owner.put(`/api/channels/${s.channel.id}/routing`, {
      handbackPolicy: 'never',
      businessHours: null,
      entryPatterns: saved.entryPatterns,
    });
  });

  it('an agent hands a conversation to WeChat’s tool; the customer’s next message goes there', async () => {
    const { s, browser } = env;
    const agent = await agentDesk(browser, s, '客服小李');
    const desk = agent.page;
    const customer = (await customerPage(browser, s, 'oHandback01', '王五')).page;

    await customer.getByTestId('session-from-input').fill('product:2002');
    await customer.getByTestId('enter-button').click();
    await customer.getByTestId('text-input').fill('我想找店里的老客服');
    await customer.getByTestId('send-button').click();

    // The entry reads by the channel's pattern, not as a raw value.
    const item = desk.getByTestId('queue-item');
    await expect.poll(() => item.textContent()).toContain('商品 2002');
    await item.getByTestId('accept-button').click();
    await desk.locator('[data-testid="chat-state"][data-state="active"]').waitFor();

    await desk.getByTestId('chat-more').click();
    await desk.getByTestId('chat-action-handBack').click();
    await desk.getByRole('dialog').getByRole('button', { name: '移交微信客服' }).click();
    await desk.locator('[data-testid="chat-state"][data-state="handed_back"]').waitFor();
    await desk.getByTestId('handed-back-notice').waitFor();
    await desk
      .locator('[data-testid="context-line"][data-event="handed_back"]')
      .filter({ hasText: '移交给微信客服工具' })
      .waitFor();

    // The customer writes again: WeChat (the emulator) takes the hand-back answer.
    await customer.getByTestId('text-input').fill('你好？');
    await customer.getByTestId('send-button').click();
    await customer.getByTestId('handed-back').waitFor();
    expect(s.sim.withWechatTool(s.channel.appId, 'oHandback01')).toBeDefined();
    // Kefu still records it, in the same conversation.
    await desk
      .locator('[data-testid="message"][data-direction="in"]')
      .filter({ hasText: '你好？' })
      .waitFor();
    await desk.getByTestId('tab-queue').click();
    await desk.getByTestId('handed-back-list').waitFor();
    await screenshot(desk, 'desk-handed-back');
    await screenshot(customer, 'customer-handed-back');

    // 收回: back in the queue; the next message is Kefu's again.
    await desk.getByTestId('take-back').click();
    await desk.locator('[data-testid="chat-state"][data-state="queued"]').waitFor();
    await customer.getByTestId('text-input').fill('还在吗');
    await customer.getByTestId('send-button').click();
    await expect
      .poll(() => customer.getByTestId('handed-back').count(), { timeout: 10_000 })
      .toBe(1);
    await expect.poll(() => s.sim.withWechatTool(s.channel.appId, 'oHandback01')).toBeUndefined();
  });
});
