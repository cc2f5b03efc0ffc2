import { describe, expect, it } from 'vitest';
import { agentDesk, customerPage, pngFile, screenshot, useE2E, waitForCount } from './browser';

describe('cards and links from the composer', () => {
  const env = useE2E();

  it('an agent sends the entry’s product as a card, then a link; the customer gets both', async () => {
    const { s, browser } = env;
    await s.owner.put(`/api/channels/${s.channel.id}/routing`, {
      handbackPolicy: 'never',
      businessHours: null,
      entryPatterns: [
        { pattern: 'product:{id}', label: '商品 {id}', pagePath: 'pages/goods/detail?id={id}' },
      ],
    });
    const agent = await agentDesk(browser, s, '客服小陈');
    const desk = agent.page;
    const customer = (await customerPage(browser, s, 'oCardCustomer01', '赵六')).page;
    await customer.getByTestId('session-from-input').fill('product:3003');
    await customer.getByTestId('enter-button').click();
    await customer.getByTestId('text-input').fill('这个还有货吗');
    await customer.getByTestId('send-button').click();
    await desk.getByTestId('queue-item').getByTestId('accept-button').click();
    await desk.locator('[data-testid="chat-state"][data-state="active"]').waitFor();

    // The card starts from the entry: its label as title, its page as the path.
    await desk.getByTestId('composer-card-button').click();
    const dialog = desk.getByTestId('card-link-dialog');
    await dialog.waitFor();
    await expect(desk.getByTestId('card-title').inputValue()).resolves.toBe('商品 3003');
    await expect(desk.getByTestId('card-page').inputValue()).resolves.toBe(
      'pages/goods/detail?id=3003',
    );
    await desk.getByTestId('card-cover').setInputFiles(pngFile('cover', [250, 170, 40]));
    await desk.getByTestId('card-cover-preview').waitFor();
    await screenshot(desk, 'composer-card');
    await desk.getByTestId('card-send').click();
    await dialog.waitFor({ state: 'hidden' });
    const sent = '[data-testid="message"][data-direction="out"][data-delivery="sent"]';
    await waitForCount(desk, sent, 1);

    // A link: the address must be a web URL before it can be sent.
    await desk.getByTestId('composer-card-button').click();
    await desk.getByTestId('card-kind-link').click();
    await desk.getByTestId('card-title').fill('双十二活动说明');
    await desk.getByTestId('link-description').fill('满 300 减 50，点开查看规则');
    await desk.getByTestId('link-url').fill('javascript:alert(1)');
    await dialog.getByText('链接地址要以 http:// 或 https:// 开头').waitFor();
    await expect(desk.getByTestId('card-send').isDisabled()).resolves.toBe(true);
    await desk.getByTestId('link-url').fill('https://shop.example.com/promo');
    await desk.getByTestId('link-thumb').fill('https://shop.example.com/p.png');
    await desk.getByTestId('card-send').click();
    await waitForCount(desk, sent, 2);

    // WeChat (the emulator) delivered a real card with the cover and the link.
    await expect
      .poll(() => s.sim.inbox(s.channel.appId, 'oCardCustomer01').map((m) => m.msgtype))
      .toEqual(['miniprogrampage', 'link']);
    const [card, link] = s.sim.inbox(s.channel.appId, 'oCardCustomer01');
    expect(card?.card).toMatchObject({
      title: '商品 3003',
      pagePath: 'pages/goods/detail?id=3003',
    });
    expect(card?.card?.thumb?.bytes.length).toBeGreaterThan(0);
    expect(link?.link).toMatchObject({ url: 'https://shop.example.com/promo' });
    await customer.locator('[data-direction="out"][data-kind="miniprogrampage"]').waitFor();
    await screenshot(desk, 'desk-card-sent', { forDocs: false });
  });
});
