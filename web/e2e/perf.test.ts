import { randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { Insertable } from 'kysely';
import type { MessageTable } from '../../server/src/db/schema';
import type { Stack } from '../../server/test/harness';
import { agentDesk, useE2E } from './browser';

const TOTAL = 10_000;
const MESSAGES = '[data-testid="message"]';

/** Appends messages 2‥TOTAL to the conversation straight into the database, as a long history. */
async function seedHistory(s: Stack, conversationId: string, agentId: string): Promise<void> {
  const db = s.app.kefu.ctx.db;
  const conv = await db
    .selectFrom('conversations')
    .selectAll()
    .where('id', '=', conversationId)
    .executeTakeFirstOrThrow();
  const start = Number(conv.createdAt);
  const rows: Insertable<MessageTable>[] = [];
  for (let seq = 2; seq <= TOTAL; seq++) {
    const out = seq % 3 === 0;
    const at = start + seq * 1000;
    rows.push({
      id: randomUUID(),
      workspaceId: conv.workspaceId,
      channelId: conv.channelId,
      conversationId,
      customerId: conv.customerId,
      seq,
      direction: out ? 'out' : 'in',
      sender: out ? 'agent' : 'customer',
      agentId: out ? agentId : null,
      kind: 'text',
      body: JSON.stringify({
        text: `消息 #${seq}${seq % 7 === 0 ? '：这一条稍长一些，用来检验行高不同的消息在虚拟列表里的测量与定位。' : ''}`,
      }),
      mediaId: null,
      platformMsgId: null,
      clientId: out ? `seed-${seq}` : null,
      delivery: out ? 'sent' : null,
      errorCode: null,
      errorReason: null,
      createdAt: at,
      sentAt: out ? at : null,
    });
  }
  await db.transaction().execute(async (tx) => {
    for (let i = 0; i < rows.length; i += 500) {
      await tx
        .insertInto('messages')
        .values(rows.slice(i, i + 500))
        .execute();
    }
    await tx
      .updateTable('conversations')
      .set({
        nextSeq: TOTAL + 1,
        lastMessageAt: start + TOTAL * 1000,
        lastPreview: `消息 #${TOTAL}`,
      })
      .where('id', '=', conversationId)
      .execute();
  });
}

/** Clicks the waiting conversation; resolves with the ms until its newest message is on screen. */
function openAndTime(page: Page, lastText: string): Promise<number> {
  // The page's function cannot see this scope: what it needs travels as its argument.
  return page.evaluate(
    ([selector, text]) =>
      new Promise<number>((resolve) => {
        const item = document.querySelector<HTMLElement>('[data-testid="queue-item"]')!;
        const t0 = performance.now();
        const check = () => {
          const list = document.querySelector('[data-testid="message-list"]');
          const all = document.querySelectorAll(selector);
          const last = all[all.length - 1];
          if (list && last?.textContent?.includes(text)) {
            const box = list.getBoundingClientRect();
            const r = last.getBoundingClientRect();
            if (r.bottom <= box.bottom + 1 && r.top >= box.top) {
              resolve(performance.now() - t0);
              return;
            }
          }
          requestAnimationFrame(check);
        };
        item.click();
        requestAnimationFrame(check);
      }),
    [MESSAGES, lastText] as const,
  );
}

/**
 * Scrolls the message list to its top again each time older messages arrive, until the very
 * first message; counts the message nodes in the DOM on every frame.
 */
function scrollToStart(page: Page): Promise<{ ms: number; rounds: number; maxNodes: number }> {
  return page.evaluate(
    (selector) =>
      new Promise((resolve, reject) => {
        const list = document.querySelector<HTMLElement>('[data-testid="message-list"] .vlist')!;
        const space = list.querySelector<HTMLElement>('.vlist-space')!;
        const t0 = performance.now();
        let maxNodes = 0;
        let rounds = 0;
        let height = '';
        const frame = () => {
          maxNodes = Math.max(maxNodes, document.querySelectorAll(selector).length);
          const ms = performance.now() - t0;
          if (list.parentElement?.querySelector('.start')) return resolve({ ms, rounds, maxNodes });
          if (ms > 40_000) return reject(new Error(`still not at the start after ${rounds} loads`));
          if (space.style.height !== height) {
            height = space.style.height;
            rounds += 1;
            list.scrollTop = 0;
            list.dispatchEvent(new Event('scroll'));
          }
          requestAnimationFrame(frame);
        };
        frame();
      }),
    MESSAGES,
  );
}

describe('a conversation with 10,000 messages', () => {
  const env = useE2E();

  it('opens fast and scrolls to the top with a bounded DOM', async () => {
    const { s, browser } = env;
    const { page, id } = await agentDesk(browser, s, '客服小王');
    await s.sim.sendText(s.channel.appId, 'oLongHistory', '消息 #1');
    await page.getByTestId('queue-item').waitFor();
    const [conv] = (await s.owner.get('/api/conversations?state=queued')).items;
    await seedHistory(s, conv.id, id);

    const openMs = await openAndTime(page, `消息 #${TOTAL}`);
    console.log(
      `[perf] 10,000-message conversation opened in ${openMs.toFixed(0)} ms (goal < 1000)`,
    );
    expect(openMs).toBeLessThan(3000);
    expect(await page.locator(MESSAGES).count()).toBeLessThan(200);

    // Scroll to the very top: older pages load as the top comes near, the DOM stays small.
    const scrolled = await scrollToStart(page);
    await page
      .locator(MESSAGES)
      .filter({ hasText: /^消息 #1$/ })
      .waitFor();
    console.log(
      `[perf] scrolled to the first of ${TOTAL} messages in ${scrolled.ms.toFixed(0)} ms ` +
        `(${scrolled.rounds} jumps to the top); at most ${scrolled.maxNodes} message nodes in DOM`,
    );
    expect(scrolled.maxNodes).toBeLessThan(200);

    // With all 10,000 in memory, leave the conversation and open it again.
    await page.getByTestId('brand').click();
    await page.getByTestId('chat-panel').waitFor({ state: 'detached' });
    const reopenMs = await openAndTime(page, `消息 #${TOTAL}`);
    console.log(`[perf] reopened with all ${TOTAL} messages loaded in ${reopenMs.toFixed(0)} ms`);
    expect(reopenMs).toBeLessThan(3000);
    expect(await page.locator(MESSAGES).count()).toBeLessThan(200);
  });
});
