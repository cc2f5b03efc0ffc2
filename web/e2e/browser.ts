import { makePng } from '@kefu/wechat-sim';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Page,
} from 'playwright-core';
import { afterAll, afterEach, beforeAll, vi } from 'vitest';
import { startStack, type Stack, type StackOptions } from '../../server/test/harness';

/**
 * Shared plumbing for the console's browser tests: one Chromium per test file, a fresh context
 * per agent or customer, sign-in, the emulator's customer page, and screenshots.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const SHOTS = path.join(ROOT, '.artifacts/screenshots');
const DOC_IMAGES = path.join(ROOT, 'docs/images');

const PASSWORD = 'agent-pass-1';

export const DESKTOP = { width: 1366, height: 768 };
export const PHONE: BrowserContextOptions = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
};

/** Debian's Chromium, headless, with everything that phones home switched off. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.KEFU_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

export interface E2E {
  s: Stack;
  browser: Browser;
}

/**
 * The file's fixtures: Kefu and the emulator on SQLite (browser tests run on one dialect to keep
 * CI time down), one Chromium, and a screenshot of every open page when a test fails.
 */
export function useE2E(opts: StackOptions = {}): E2E {
  const env = {} as E2E;
  // A browser test does many round trips; on a busy 2-core runner it needs room, not luck.
  vi.setConfig({ testTimeout: 60_000 });
  beforeAll(async () => {
    [env.s, env.browser] = await Promise.all([startStack('sqlite', opts), launchBrowser()]);
    await nameLikeTheDemo(env.s);
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail' || !env.browser) return;
    const pages = env.browser.contexts().flatMap((c) => c.pages());
    const slug = ctx.task.name.replace(/[^\w]+/g, '-').slice(0, 40);
    for (const [i, page] of pages.entries()) {
      await screenshot(page, `failed-${slug}-${i}`, { forDocs: false, toasts: true }).catch(
        () => undefined,
      );
    }
  });
  afterAll(async () => {
    await env.browser?.close();
    await env.s?.close();
  });
  return env;
}

/** The harness names things in English; the screenshots show a Chinese shop, as the demo does. */
async function nameLikeTheDemo(s: Stack): Promise<void> {
  const db = s.app.kefu.ctx.db;
  await db
    .updateTable('workspaces')
    .set({ name: '演示商店' })
    .where('id', '=', s.workspaceId)
    .execute();
  await s.owner.patch(`/api/agents/${s.owner.agentId}`, { displayName: '店长' });
  await s.owner.patch(`/api/channels/${s.channel.id}`, { name: '演示小程序' });
}

/** A new browser context (own storage, cookies and permissions) with one page. */
export async function newPage(
  browser: Browser,
  opts: BrowserContextOptions = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: DESKTOP,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    ...opts,
  });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  return { context, page };
}

/** Signs in through the login form and waits for the desk. */
export async function signIn(
  page: Page,
  baseUrl: string,
  login: string,
  password: string,
  opts: { keepUsageRules?: boolean } = {},
) {
  await page.goto(`${baseUrl}/login`);
  await page.getByTestId('login-input').fill(login);
  await page.getByTestId('password-input').fill(password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('status-switch').waitFor();
  if (!opts.keepUsageRules) await acceptUsageRules(page);
}

/**
 * A first sign-in shows WeChat's usage rules until the agent accepts them (UsageRulesDialog);
 * tests about other things accept them. `html[data-usage-rules]` says when the check is done.
 */
export async function acceptUsageRules(page: Page) {
  await page.locator('html[data-usage-rules]').waitFor({ state: 'attached' });
  if ((await page.locator('html').getAttribute('data-usage-rules')) !== 'pending') return;
  await page.getByTestId('usage-rules-ack').click();
  await page.locator('html[data-usage-rules="acked"]').waitFor({ state: 'attached' });
  await page.getByTestId('usage-rules-ack').waitFor({ state: 'hidden' });
}

/** Clicks a status in the switch and waits until the server confirmed it. */
export async function setStatus(page: Page, status: 'online' | 'away') {
  await page.getByTestId(`status-${status}`).click();
  await page.locator(`[data-testid="status-switch"][data-status="${status}"]`).waitFor();
}

/**
 * A new agent called `name`, bound to the stack's mini program, signed in to the console in a
 * context of their own and, unless `online: false`, switched online with the status switch.
 */
export async function agentDesk(
  browser: Browser,
  s: Stack,
  name: string,
  opts: BrowserContextOptions & { online?: boolean } = {},
) {
  const { online = true, ...contextOpts } = opts;
  const login = `agent-${randomBytes(4).toString('hex')}`;
  const { id } = await s.owner.post<{ id: string }>('/api/agents', {
    login,
    displayName: name,
    password: PASSWORD,
    capacity: 5,
    channelIds: [s.channel.id],
  });
  const { context, page } = await newPage(browser, contextOpts);
  await signIn(page, s.url, login, PASSWORD);
  if (online) await setStatus(page, 'online');
  return { id, context, page, login, name };
}

/** The emulator's customer page, opened as one customer of the stack's mini program. */
export async function customerPage(browser: Browser, s: Stack, openid: string, nickname: string) {
  const { context, page } = await newPage(browser, { viewport: { width: 420, height: 760 } });
  const query = new URLSearchParams({ appId: s.channel.appId, openid, nickname });
  await page.goto(`${s.sim.url}/?${query.toString()}`);
  await page.getByTestId('window-state').waitFor();
  return { context, page };
}

/** A small checkered PNG as a file for `setInputFiles` (what a file picker would hand over). */
export function pngFile(name: string, rgb: [number, number, number]) {
  const buffer = makePng(64, 48, (x, y) =>
    ((x >> 3) + (y >> 3)) % 2 === 0 ? rgb : [255, 255, 255],
  );
  return { name: `${name}.png`, mimeType: 'image/png', buffer };
}

/** Waits until the CSS selector matches exactly `n` elements. */
export async function waitForCount(page: Page, selector: string, n: number, timeout = 10_000) {
  await page.waitForFunction(
    ([sel, count]) => document.querySelectorAll(sel).length === count,
    [selector, n] as const,
    { timeout },
  );
}

/**
 * Saves a PNG to `.artifacts/screenshots/<name>.png` (a test artifact, not committed) and, with
 * KEFU_DOCS_SCREENSHOTS=1, to `docs/images/<name>.png` for the guides.
 */
export async function screenshot(
  page: Page,
  name: string,
  opts: { forDocs?: boolean; toasts?: boolean } = {},
): Promise<void> {
  const { forDocs = true, toasts = false } = opts;
  mkdirSync(SHOTS, { recursive: true });
  // Let transitions and fonts settle so the picture shows what a person would see.
  await page.evaluate(() => document.fonts.ready.then(() => undefined));
  await page.evaluate(
    () => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))),
  );
  // Toasts from earlier steps linger for three seconds; they are noise in a picture of a page.
  const png = await page.screenshot({
    animations: 'disabled',
    caret: 'hide',
    ...(toasts ? {} : { style: '.kefu-toast { display: none !important; }' }),
  });
  writeFileSync(path.join(SHOTS, `${name}.png`), png);
  if (forDocs && process.env.KEFU_DOCS_SCREENSHOTS === '1') {
    mkdirSync(DOC_IMAGES, { recursive: true });
    writeFileSync(path.join(DOC_IMAGES, `${name}.png`), png);
  }
}
