import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reserveReply } from '../src/modules/messages/outbox-jobs';
import { DIALECTS, PG_URL, startStack, waitFor, type Stack } from './harness';

// Row locks decide this race, so it is played out on PostgreSQL, with a second connection
// standing in for a customer message that commits while a reply takes its slot.
describe.runIf(DIALECTS.includes('postgres'))('a reply racing a customer message', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack('postgres', { mode: 'plaintext', format: 'xml' });
  });
  afterAll(() => s?.close());

  it('never overwrites the quota a customer message just reset', async () => {
    const ctx = s.app.kefu.ctx;
    await s.sim.sendText(s.channel.appId, 'o-race', '在吗');
    const customer = await waitFor(() =>
      ctx.db
        .selectFrom('customers')
        .select('id')
        .where('channelId', '=', s.channel.id)
        .where('openid', '=', 'o-race')
        .executeTakeFirst(),
    );
    await ctx.db
      .updateTable('customers')
      .set({ windowQuota: 1 })
      .where('id', '=', customer.id)
      .execute();

    // The customer writes again: its transaction has reset the quota but not committed yet.
    const other = new pg.Client({
      connectionString: PG_URL,
      options: `-c search_path=${ctx.config.databaseSchema ?? 'public'}`,
    });
    await other.connect();
    try {
      const { rows } = await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const otherPid = rows[0]!.pid;
      await other.query('BEGIN');
      await other.query('UPDATE customers SET window_quota = 5 WHERE id = $1', [customer.id]);
      // Meanwhile a reply takes its slot; it must wait for that row, then count from 5.
      const reply = ctx.transact((u) => reserveReply(u, customer.id, ctx.now()));
      await waitFor(
        async () => {
          const res = await other.query<{ n: string }>(
            'SELECT count(*) AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
            [otherPid],
          );
          return Number(res.rows[0]?.n) > 0;
        },
        20_000,
        'the reply to wait for the customer row',
      );
      await other.query('COMMIT');
      await reply;
    } finally {
      await other.end();
    }
    const row = await ctx.db
      .selectFrom('customers')
      .select('windowQuota')
      .where('id', '=', customer.id)
      .executeTakeFirstOrThrow();
    // Read-then-write would have written 1 − 1 = 0 over the customer's 5.
    expect(row.windowQuota).toBe(4);
  });
});
