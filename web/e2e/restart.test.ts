import { rmSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../server/src/app';
import type { Stack } from '../../server/test/harness';
import { agentDesk, customerPage, useE2E, waitForCount } from './browser';

/**
 * Stops Kefu and starts a new process-equivalent on the same data directory and port (the
 * emulator's push URL stays valid). `whileDown` runs once the old one is fully closed.
 */
async function restartKefu(s: Stack, whileDown: () => Promise<void>): Promise<Stack> {
  const config = s.app.kefu.ctx.config;
  const port = Number(new URL(s.url).port);
  await s.app.close();
  await whileDown();
  const app = await buildApp(config, { logger: false, now: s.clock.now });
  await app.listen({ port, host: '127.0.0.1' });
  return {
    ...s,
    app,
    async close() {
      await app.close();
      await s.sim.close();
      rmSync(config.dataDir, { recursive: true, force: true });
    },
  };
}

/** Counts the console's WebSocket attempts, to know how far its reconnect backoff has grown. */
function countSockets(page: Page): { failed: () => number } {
  let failed = 0;
  page.on('websocket', (ws) => {
    let gotFrame = false;
    ws.on('framereceived', () => (gotFrame = true));
    ws.on('close', () => {
      if (!gotFrame) failed += 1;
    });
  });
  return { failed: () => failed };
}

describe('a server restart mid-conversation', () => {
  const env = useE2E();

  it('shows the banner, recovers by itself, and loses or doubles nothing', async () => {
    const { s, browser } = env;
    const { page } = await agentDesk(browser, s, '客服小王');
    const customer = (await customerPage(browser, s, 'oRestart001', '王五')).page;
    const say = async (text: string) => {
      await customer.getByTestId('text-input').fill(text);
      await customer.getByTestId('send-button').click();
    };
    await say('我想退货');
    await page.getByTestId('accept-button').click();
    const composer = page.getByTestId('composer-input');
    await composer.fill('好的，请问订单号是多少？');
    await composer.press('Enter');
    const outSent = '[data-testid="message"][data-direction="out"][data-delivery="sent"]';
    await waitForCount(page, outSent, 1);

    const sockets = countSockets(page);
    const banner = page.getByTestId('connection-banner');
    env.s = await restartKefu(s, async () => {
      await banner.waitFor();
      // A reply typed while the server is away fails visibly and can be sent again later.
      await composer.fill('稍等，我查一下');
      await composer.press('Enter');
      await page.locator('[data-testid="message"][data-delivery="failed"]').waitFor();
      // After three failed attempts the next one is at least two seconds away: the customer's
      // messages below reach the new server while the desk is still reconnecting.
      await expect.poll(() => sockets.failed(), { timeout: 15_000 }).toBeGreaterThanOrEqual(3);
    });
    const during = ['订单号 20240501', '是那件蓝色外套', '可以上门取件吗？'];
    for (const text of during) await say(text);
    await waitForCount(customer, '[data-testid="timeline-item"][data-direction="in"]', 4);
    expect(await banner.isVisible()).toBe(true);

    // Back by itself: banner gone, the missed messages shown once each, in order.
    await banner.waitFor({ state: 'hidden', timeout: 15_000 });
    const inbound = page.locator('[data-testid="message"][data-direction="in"]');
    await expect.poll(() => inbound.count()).toBe(4);
    expect(await inbound.allTextContents()).toEqual(['我想退货', ...during]);

    // The reply that failed goes out once on retry; a new one goes out once too.
    await page.getByTestId('retry-button').click();
    await waitForCount(page, outSent, 2);
    await composer.fill('可以的，已为您预约明天上门取件。');
    await composer.press('Enter');
    await waitForCount(page, outSent, 3);
    const out = await page
      .locator('[data-testid="message"][data-direction="out"]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-client-id')));
    expect(new Set(out).size).toBe(3);
    expect(s.sim.inbox(s.channel.appId, 'oRestart001').map((m) => m.text)).toEqual([
      '好的，请问订单号是多少？',
      '稍等，我查一下',
      '可以的，已为您预约明天上门取件。',
    ]);
    const stored = (await env.s.owner.get('/api/conversations?state=active')).items[0];
    const log = (await env.s.owner.get(`/api/conversations/${stored.id}/messages`)).items;
    expect(log.filter((m: any) => m.kind === 'text')).toHaveLength(7);

    // The customer's page shows the three replies once each.
    const replies = customer.locator('[data-testid="timeline-item"][data-direction="out"]');
    await expect.poll(() => replies.count()).toBe(3);
  });
});
