import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DbHandle, type Tx } from '../../db/index';
import { newId } from '../../lib/ids';
import { DIALECTS, testConfig } from '../../../test/harness';
import { conversationStorage } from './storage';

describe.each(DIALECTS)('conversation storage seam (%s)', (dialect) => {
  const storage = conversationStorage(dialect);
  let handle: DbHandle;
  let cleanup: () => Promise<void>;
  let customerId: string;
  let otherId: string;
  let channelId: string;

  beforeAll(async () => {
    const t = testConfig(dialect);
    cleanup = t.cleanup;
    handle = await openDatabase({
      url: t.config.databaseUrl,
      dataDir: t.config.dataDir,
      schema: t.config.databaseSchema,
    });
    const db = handle.db;
    const workspaceId = newId();
    channelId = newId();
    customerId = newId();
    await db
      .insertInto('workspaces')
      .values({ id: workspaceId, name: 'w', eventSeq: 0, sensitiveWords: '[]', createdAt: 0 })
      .execute();
    await db
      .insertInto('channels')
      .values({
        id: channelId,
        workspaceId,
        kind: 'wechat_mp',
        name: 'c',
        appId: 'wx1',
        originalId: 'gh_1',
        secretsEnc: '',
        mode: 'safe',
        format: 'json',
        tokenEndpoint: 'stable',
        apiBase: null,
        idleMinutes: 30,
        createdAt: 0,
        deletedAt: null,
      })
      .execute();
    otherId = newId();
    const customer = (id: string, openid: string) => ({
      id,
      workspaceId,
      channelId,
      openid,
      unionid: null,
      nickname: null,
      windowExpiresAt: null,
      windowQuota: 0,
      lastMessageAt: null,
      createdAt: 0,
    });
    await db
      .insertInto('customers')
      .values([customer(customerId, 'o-1'), customer(otherId, 'o-2')])
      .execute();
  });
  afterAll(async () => {
    await handle?.close();
    await cleanup?.();
  });

  /**
   * The seam's contract on either dialect: once one transaction holds the lock, no other gets
   * past it until the first commits (PostgreSQL: the row or advisory lock; SQLite: one
   * transaction at a time). The pause only gives a broken lock the chance to show; it asserts
   * an order, never a duration.
   */
  async function assertSerializes(lock: (tx: Tx) => Promise<void>): Promise<void> {
    const order: string[] = [];
    let release = (): void => {};
    const gate = new Promise<void>((r) => (release = r));
    let signal = (): void => {};
    const held = new Promise<void>((r) => (signal = r));
    const first = handle.db.transaction().execute(async (tx) => {
      await lock(tx);
      order.push('first locked');
      signal();
      await gate;
      order.push('first commits');
    });
    await held;
    const second = handle.db.transaction().execute(async (tx) => {
      await lock(tx);
      order.push('second locked');
    });
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect(order).toEqual(['first locked']);
    } finally {
      // Even when the check fails, end both transactions so the next test starts clean.
      release();
      await Promise.allSettled([first, second]);
    }
    expect(order).toEqual(['first locked', 'first commits', 'second locked']);
  }

  it('lockCustomers holds the customers until commit', async () => {
    await assertSerializes((tx) => storage.lockCustomers(tx, [customerId]));
  });

  it('lockCustomers takes several in one statement, whatever order they are given in', async () => {
    await assertSerializes((tx) => storage.lockCustomers(tx, [otherId, customerId]));
    // Nothing to lock is a no-op, not an error.
    await handle.db.transaction().execute((tx) => storage.lockCustomers(tx, []));
  });

  it('lockAssignment serializes a channel’s auto-assignment', async () => {
    await assertSerializes((tx) => storage.lockAssignment(tx, channelId));
  });

  it('forUpdate locks the rows read on PostgreSQL only', () => {
    const q = storage.forUpdate(
      handle.db.selectFrom('conversations').selectAll().where('id', '=', 'x'),
    );
    expect(/for update/i.test(q.compile().sql)).toBe(dialect === 'postgres');
  });
});
