import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { PHONE, agentDesk, screenshot, useE2E } from './browser';

const MIN = 44;

/**
 * Every visible control on the page, with its box: buttons, links, inputs, tabs and anything
 * clickable by role. A control inside a larger clickable row counts the row's box (the whole
 * row is the target), and a label wrapping a checkbox counts the label.
 */
async function smallControls(page: Page): Promise<string[]> {
  return page.evaluate((min) => {
    const selector =
      'button, a[href], input:not([type=hidden]), select, textarea, [role=button], [role=tab], label:has(input)';
    const small: string[] = [];
    for (const el of Array.from(document.querySelectorAll<HTMLElement>(selector))) {
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || style.display === 'none') continue;
      if (el instanceof HTMLInputElement && (el.type === 'file' || el.hidden)) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      // Off-screen (e.g. scrolled away) or covered controls are not on this screen.
      if (r.bottom < 0 || r.top > innerHeight || r.right < 0 || r.left > innerWidth) continue;
      // A checkbox or radio whose label is the target.
      if (el instanceof HTMLInputElement && el.closest('label')) continue;
      // The element's own tap area includes its padding, not its margin.
      const target =
        el.closest<HTMLElement>('.el-checkbox, .el-radio, .el-switch, .el-input, .el-select') ?? el;
      const t = target.getBoundingClientRect();
      if (t.height < min || t.width < min) {
        const name = (
          el.getAttribute('data-testid') ??
          el.getAttribute('aria-label') ??
          el.textContent ??
          el.tagName
        )
          .trim()
          .slice(0, 30);
        small.push(`${name} ${Math.round(t.width)}×${Math.round(t.height)}`);
      }
    }
    return small;
  }, MIN);
}

async function overflows(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > innerWidth + 1);
}

describe('a phone’s tap targets (390×844)', () => {
  const env = useE2E();

  it('every visible control on the list, the chat and the settings is at least 44 px, nothing overflows', async () => {
    const { s, browser } = env;
    await s.sim.enterSession(s.channel.appId, 'oTap0001', 'product:1');
    await s.sim.sendText(s.channel.appId, 'oTap0001', '你好');
    const { page } = await agentDesk(browser, s, '客服小郑', PHONE);
    await page.getByTestId('queue-item').first().waitFor();

    const report: Record<string, string[]> = {};
    report['list'] = await smallControls(page);
    expect(await overflows(page), 'list overflows').toBe(false);

    await page.getByTestId('queue-item').first().tap();
    await page.getByTestId('accept-current').waitFor();
    report['chat-queued'] = await smallControls(page);
    await page.getByTestId('accept-current').tap();
    await page.locator('[data-testid="chat-state"][data-state="active"]').waitFor();
    report['chat'] = await smallControls(page);
    expect(await overflows(page), 'chat overflows').toBe(false);
    await screenshot(page, 'mobile-chat-targets', { forDocs: false });

    await page.getByTestId('back-button').tap();
    await page.goto(`${s.url}/settings`);
    await page.getByTestId('setting-channels').waitFor();
    report['settings'] = await smallControls(page);
    expect(await overflows(page), 'settings overflow').toBe(false);

    expect(report).toEqual({ list: [], 'chat-queued': [], chat: [], settings: [] });
  });
});
