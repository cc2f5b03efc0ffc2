import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { agentDesk, customerPage, useE2E } from './browser';

/** Records the page's accept answers, and every toast text it shows (they fade after 3 s). */
async function watchRefusals(page: Page) {
  const statuses: number[] = [];
  page.on('response', (r) => {
    if (r.url().endsWith('/accept')) statuses.push(r.status());
  });
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { toasts: string[] }).toasts = seen;
    new MutationObserver(() => {
      for (const t of document.querySelectorAll('.kefu-toast')) {
        if (t.textContent && !seen.includes(t.textContent)) seen.push(t.textContent);
      }
    }).observe(document.body, { childList: true, subtree: true });
  });
  const toasts = () => page.evaluate(() => (window as unknown as { toasts: string[] }).toasts);
  return { statuses, toasts };
}

describe('two agents race for one waiting customer', () => {
  const env = useE2E();

  it('exactly one gets the conversation; the other is told who took it', async () => {
    const { s, browser } = env;
    const [a, b] = await Promise.all([
      agentDesk(browser, s, '客服小王'),
      agentDesk(browser, s, '客服小李'),
    ]);
    const customer = (await customerPage(browser, s, 'oRaceCustomer01', '李四')).page;
    await customer.getByTestId('text-input').fill('有人在吗？');
    await customer.getByTestId('send-button').click();

    // Both see the one waiting conversation and open it.
    const open = async (page: Page) => {
      await page.getByTestId('queue-item').click();
      await page.getByTestId('accept-current').waitFor();
    };
    await Promise.all([open(a.page), open(b.page)]);

    const [conv] = (await s.owner.get('/api/conversations?state=queued')).items;
    const refused = await Promise.all([a.page, b.page].map(watchRefusals));

    // Both press 接入 at the same wall-clock instant (a timer in each page), not one after the
    // other as two remote clicks would.
    const at = Date.now() + 300;
    await Promise.all(
      [a.page, b.page].map((page) =>
        page.getByTestId('accept-current').evaluate((el, when) => {
          setTimeout(() => (el as HTMLElement).click(), when - Date.now());
        }, at),
      ),
    );
    await expect
      .poll(async () => (await s.owner.get(`/api/conversations/${conv.id}`)).agentName)
      .toMatch(/^客服小[王李]$/);
    const view = await s.owner.get(`/api/conversations/${conv.id}`);
    const [winner, loser] = view.agentId === a.id ? [a, b] : [b, a];
    const loserRefusals = view.agentId === a.id ? refused[1]! : refused[0]!;

    // The winner can write; the loser sees the winner's name and has no composer.
    await winner.page.locator('[data-testid="chat-state"][data-state="active"]').waitFor();
    await winner.page.getByTestId('composer-input').waitFor();
    const notice = loser.page.getByTestId('taken-notice');
    await expect.poll(() => notice.textContent()).toContain(winner.name);
    await expect(loser.page.getByTestId('composer-input').count()).resolves.toBe(0);
    await expect(loser.page.getByTestId('queue-item').count()).resolves.toBe(0);
    // When the loser's request reached the server first-hand (409), a toast named the winner.
    // (On a slow machine the winner's event can re-render the page before the loser's timer
    // fires; then the click lands on nothing and the notice above is what the loser sees.)
    if (loserRefusals.statuses.includes(409)) {
      await expect
        .poll(() => loserRefusals.toasts())
        .toContainEqual(expect.stringContaining(winner.name));
    }

    const accepted = (await s.owner.get(`/api/conversations/${conv.id}/messages`)).items.filter(
      (m: any) => m.kind === 'event' && m.body.event === 'accepted',
    );
    expect(accepted).toHaveLength(1);
  });
});
