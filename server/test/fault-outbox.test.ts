import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config';
import type { AppContext } from '../src/context';
import type { Dialect } from '../src/db/index';
import { createWechatAdapter } from '../src/modules/channels/wechat/adapter';
import { NodeHeartbeat } from '../src/modules/cluster/node-heartbeat';
import { OutboxWorker } from '../src/modules/messages/outbox-worker';
import type { ApiClient } from './api-client';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';
import { acceptAndReply } from './push-helpers';
import { kefuEnv, startKefu, type KefuProcess } from './kefu-process';
import { isSend, startGate, type PlatformGate } from './platform-gate';

/*
 * The outbox never sends a reply twice because of a database failure after WeChat accepted it
 * (issue 7, part 5). A real `kefu start` child runs the outbox; its platform calls pass through
 * a gate in front of the emulator, which acts at the worst moment: WeChat has accepted the send,
 * and its answer is not back in Kefu yet. The in-process stack only sets up and reads.
 */

const TEST_MS = 120_000;
const WAIT_MS = 60_000;
const BOOKKEEPING_FAILED = 'outbox bookkeeping failed (recording the outcome)';

/** Makes every write of another process fail (or wait) until released, for real. */
interface WriteLock {
  /** PostgreSQL: ends the connections of `application` that wait on the lock. */
  cut(application: string): Promise<void>;
  release(): Promise<void>;
}

async function lockWrites(dialect: Dialect, config: Config): Promise<WriteLock> {
  if (dialect === 'sqlite') {
    const file = path.join(config.dataDir, 'kefu.db');
    const db = new Database(file, { timeout: 10_000 });
    // The write lock: WAL readers go on, every writer gets SQLITE_BUSY.
    db.exec('BEGIN IMMEDIATE');
    return {
      async cut() {},
      async release() {
        db.exec('ROLLBACK');
        db.close();
      },
    };
  }
  const client = new pg.Client({
    connectionString: config.databaseUrl,
    options: `-c search_path=${config.databaseSchema}`,
  });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE');
  return {
    async cut(application) {
      await client.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = $1 AND wait_event_type = 'Lock'`,
        [application],
      );
    },
    async release() {
      await client.query('ROLLBACK');
      await client.end();
    },
  };
}

const count = (text: string, part: string) => text.split(part).length - 1;

describe.each(DIALECTS)('outbox under faults (%s)', (dialect) => {
  let s: Stack;
  let gate: PlatformGate;
  let agent: ApiClient;
  const nodeId = `fault-outbox-${randomBytes(3).toString('hex')}`;
  const children: KefuProcess[] = [];

  /** A `kefu start` child whose platform calls go through the gate. */
  async function startChild(): Promise<KefuProcess> {
    const config = s.app.kefu.ctx.config;
    const child = await startKefu(
      kefuEnv(config, {
        KEFU_NODE_ID: nodeId,
        KEFU_ALLOWED_OUTBOUND: [...config.allowedOutboundBases, gate.url].join(','),
        // A write that meets the lock fails fast (and so the bookkeeping retries) on SQLite.
        KEFU_SQLITE_BUSY_MS: '300',
      }),
    );
    children.push(child);
    return child;
  }

  /** A customer writes, the agent accepts and replies; resolves with the reply's id. */
  async function reply(openid: string, text: string): Promise<string> {
    const sent = await acceptAndReply(s, agent, openid, text, {
      first: '你好',
      timeoutMs: WAIT_MS,
    });
    return sent.messageId;
  }

  async function messageRow(id: string) {
    return s.app.kefu.ctx.db
      .selectFrom('messages')
      .select(['delivery', 'errorCode', 'errorReason'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
  }

  async function outboxSize(): Promise<number> {
    const rows = await s.app.kefu.ctx.db.selectFrom('outbox').select('id').execute();
    return rows.length;
  }

  beforeAll(async () => {
    // The in-process stack never runs the outbox: the child alone sends.
    s = await startStack(dialect, { build: { workers: false } });
    gate = await startGate(s.sim.url!);
    await s.app.kefu.ctx.db
      .updateTable('channels')
      .set({ apiBase: gate.url })
      .where('id', '=', s.channel.id)
      .execute();
    agent = await s.agent('fault-outbox', { capacity: 10 });
  });
  afterAll(async () => {
    for (const child of children) await child.kill();
    await gate?.close();
    await s?.close();
  });

  it(
    'WeChat accepted, then the database failed while recording it: sent once, recorded sent',
    async () => {
      const child = await startChild();
      let breaking: Promise<void> | undefined;
      gate.rule({
        match: isSend,
        after: async () => {
          // WeChat has the message; Kefu does not know yet. Every write Kefu tries now fails,
          // until it has failed to record the send twice.
          const held = await lockWrites(dialect, s.app.kefu.ctx.config);
          breaking = (async () => {
            await waitFor(
              async () => {
                await held.cut(`kefu:${nodeId}`);
                return count(child.output(), BOOKKEEPING_FAILED) >= 2;
              },
              WAIT_MS,
              'two failed attempts to record the send',
            );
            await held.release();
          })();
        },
      });
      const id = await reply('o-db-fails', '数据库故障后只发一次');
      await waitFor(() => breaking !== undefined, WAIT_MS, 'the send to reach the gate');
      await breaking;
      await waitFor(
        async () => (await messageRow(id)).delivery === 'sent' && (await outboxSize()) === 0,
        WAIT_MS,
        'the send recorded once the database is back',
      );
      expect(s.sim.inbox(s.channel.appId, 'o-db-fails').map((m) => m.text)).toEqual([
        '数据库故障后只发一次',
      ]);
      // Every failed attempt was logged with the job, the attempt and the error code.
      const lines = child
        .output()
        .split('\n')
        .filter((l) => l.includes(BOOKKEEPING_FAILED))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.length).toBeGreaterThanOrEqual(2);
      for (const [i, line] of lines.entries()) {
        expect(line).toMatchObject({ level: 40, attempt: i + 1 });
        expect(line.jobId).toBeDefined();
        expect(line.code).toBeDefined();
      }
      expect(child.exited).toBe(false);
      await child.kill();
    },
    TEST_MS,
  );

  it(
    'the node dies between WeChat’s answer and its record: failed as uncertain, never resent',
    async () => {
      const child = await startChild();
      gate.rule({
        match: isSend,
        // WeChat has delivered it; the process dies before it hears so.
        after: () => child.kill(),
      });
      const id = await reply('o-node-dies', '发送途中进程被杀');
      await waitFor(() => child.exited, WAIT_MS, 'the child to be killed mid-send');
      expect((await messageRow(id)).delivery).toBe('pending');

      // The restart (same node id) takes the dead process's job at once and does not resend it.
      const restarted = await startChild();
      const row = await waitFor(
        async () => {
          const r = await messageRow(id);
          return r.delivery === 'failed' ? r : undefined;
        },
        WAIT_MS,
        'the uncertain reply settled',
      );
      expect(row.errorCode).toBe(0);
      expect(row.errorReason).toContain('(DELIVERY_UNCERTAIN)');
      expect(row.errorReason).toMatch(/check with the customer before resending/);
      expect(await outboxSize()).toBe(0);
      expect(s.sim.inbox(s.channel.appId, 'o-node-dies').map((m) => m.text)).toEqual([
        '发送途中进程被杀',
      ]);
      await restarted.kill();
    },
    TEST_MS,
  );

  it(
    'taken for dead after WeChat accepted: the taker marks it uncertain, the sender corrects it',
    async () => {
      // Two in-process nodes, driven by hand (no child may claim the job first). A sends through
      // the gate; B is the taker.
      for (const child of children) await child.kill();
      const ctx = s.app.kefu.ctx;
      const config = {
        ...ctx.config,
        allowedOutboundBases: [...ctx.config.allowedOutboundBases, gate.url],
      };
      const ctxA: AppContext = { ...ctx, config, adapters: {} };
      ctxA.adapters.wechat_mp = createWechatAdapter(ctxA);
      const ctxB: AppContext = { ...ctxA, config: { ...config, nodeId: `${config.nodeId}-b` } };
      const [beatA, beatB] = [new NodeHeartbeat(ctxA), new NodeHeartbeat(ctxB)];
      await beatA.start();
      await beatB.start();
      const [nodeA, nodeB] = [new OutboxWorker(ctxA, beatA), new OutboxWorker(ctxB, beatB)];
      let delivery = '';
      gate.rule({
        match: isSend,
        after: async () => {
          // WeChat has it; A now looks dead (its last beat a minute old) and B takes its job.
          await beatA.stop();
          await ctx.db
            .insertInto('clusterNodes')
            .values({
              id: beatA.instanceId,
              nodeId: config.nodeId,
              host: 'elsewhere',
              pid: 1,
              startedAt: 0,
              beatAt: ctx.now() - 60_000,
            })
            .execute();
          expect(await nodeB.process()).toBe(1);
          delivery = String((await messageRow(id)).delivery);
        },
      });
      const id = await reply('o-taken-for-dead', '被误判死亡后仍记为已发');
      try {
        expect(await nodeA.process()).toBe(1);
      } finally {
        await beatB.stop();
      }
      // B would not resend a started attempt; A, whose send WeChat accepted, set the record right.
      expect(delivery).toBe('failed');
      expect(await messageRow(id)).toMatchObject({ delivery: 'sent', errorReason: null });
      expect(await outboxSize()).toBe(0);
      expect(s.sim.inbox(s.channel.appId, 'o-taken-for-dead').map((m) => m.text)).toEqual([
        '被误判死亡后仍记为已发',
      ]);
    },
    TEST_MS,
  );
});
