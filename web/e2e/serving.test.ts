import { describe, expect, it } from 'vitest';
import { agentDesk, screenshot, useE2E, waitForCount } from './browser';

describe('which mini programs an agent serves (选择小程序帐号)', () => {
  const env = useE2E();

  it('the queue lists only served mini programs by default, with a filter for the rest', async () => {
    const { s, browser } = env;
    const second = await s.addChannel('second');
    await s.owner.patch(`/api/channels/${second.id}`, { name: '旗舰店小程序' });
    const agent = await agentDesk(browser, s, '客服小周');
    await s.owner.put(`/api/channels/${second.id}/agents`, { agentIds: [agent.id] });
    const { page } = agent;
    // The new binding reaches the open console as an access change; reload to be plain about it.
    await page.reload();
    await page.getByTestId('queue-filter').waitFor();

    s.sim.setNickname(s.channel.appId, 'o-serve-a', '张三');
    s.sim.setNickname(second.appId, 'o-serve-b', '李四');
    await s.sim.sendText(s.channel.appId, 'o-serve-a', '演示小程序的问题');
    await s.sim.sendText(second.appId, 'o-serve-b', '旗舰店的问题');
    await waitForCount(page, '[data-testid="queue-item"]', 2);

    // Settings: stop serving the demo mini program.
    await page.getByTestId('nav-settings').click();
    await page.getByTestId('setting-channels').getByText('演示小程序').click();
    await page.waitForFunction(() => {
      const boxes = document.querySelectorAll('[data-testid="setting-channels"] label.is-checked');
      return boxes.length === 1;
    });
    await page.getByTestId('nav-desk').click();

    // Default filter: only the served one, and a note that one more waits elsewhere.
    await waitForCount(page, '[data-testid="queue-item"]', 1);
    await expect(page.getByTestId('queue-preview').textContent()).resolves.toContain('旗舰店');
    await expect(page.getByTestId('tab-queue-count').textContent()).resolves.toContain('1');
    await expect(page.getByTestId('queue-hidden').textContent()).resolves.toContain('1');
    await screenshot(page, 'desk-serving-filter');

    // 全部小程序 shows both; one mini program by name shows only its own.
    await page.getByTestId('queue-filter').selectOption('all');
    await waitForCount(page, '[data-testid="queue-item"]', 2);
    await page.getByTestId('queue-filter').selectOption(s.channel.id);
    await waitForCount(page, '[data-testid="queue-item"]', 1);
    await expect(page.getByTestId('queue-preview').textContent()).resolves.toContain('演示小程序');

    // The choice is remembered across a reload.
    await page.reload();
    await waitForCount(page, '[data-testid="queue-item"]', 1);
    await expect(page.getByTestId('queue-filter').inputValue()).resolves.toBe(s.channel.id);
  });
});
