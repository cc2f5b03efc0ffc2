import { deliverPush, type PushRequest } from '@kefu/wechat-sim';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startStack, type Stack } from '../server/test/harness';
import { DIALECT, median, nextMsgId, now, pool, ratioLine } from './lib';

const N = 800;
const WARMUP = 800;
const ROUNDS = 5;
/** Pushes in flight at once, as when many customers write at the same moment. */
const CONCURRENCY = 16;
const CUSTOMERS = 50;

/** Signed, encrypted (safe mode, JSON) text pushes, built before any clock starts. */
function buildPushes(s: Stack, n: number): PushRequest[] {
  const { originalId } = s.sim.getApp(s.channel.appId)!;
  const createTime = Math.floor(Date.now() / 1000);
  return Array.from({ length: n }, (_, k) =>
    s.sim.buildPush(s.channel.appId, {
      ToUserName: originalId,
      FromUserName: `o-bench-${k % CUSTOMERS}`,
      CreateTime: createTime,
      MsgType: 'text',
      Content: `请问第 ${k} 件商品什么时候发货？`,
      MsgId: nextMsgId(),
    }),
  );
}

/** The floor: Fastify answering `success` after one SQLite insert of the raw body (WAL, like Kefu). */
async function startRaw() {
  const dir = mkdtempSync(path.join(tmpdir(), 'kefu-bench-raw-'));
  const db = new Database(path.join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('create table messages (id text primary key, body text not null, created_at integer)');
  const insert = db.prepare('insert into messages (id, body, created_at) values (?, ?, ?)');
  const app = Fastify({ logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.post('/wechat/raw', async (req, reply) => {
    insert.run(randomUUID(), String(req.body), Date.now());
    return reply.type('text/plain').send('success');
  });
  const url = `${await app.listen({ port: 0, host: '127.0.0.1' })}/wechat/raw`;
  return {
    retarget: (p: PushRequest): PushRequest => ({ ...p, url: `${url}?${p.url.split('?')[1]}` }),
    count: () => (db.prepare('select count(*) as n from messages').get() as { n: number }).n,
    async close() {
      await app.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Delivers every push (WeChat's client rules) and returns messages per second. */
async function timeDelivery(pushes: PushRequest[]): Promise<number> {
  const start = now();
  await pool(pushes, CONCURRENCY, async (push) => {
    const r = await deliverPush(push, 5000);
    if (!r.acknowledged) throw new Error(`push not acknowledged: ${r.status} ${r.body}`);
  });
  return (pushes.length / (now() - start)) * 1000;
}

/** (a) Push ingest: signed + encrypted pushes → committed messages, vs bare POST + one insert. */
export async function benchPushIngest(): Promise<string[]> {
  const s = await startStack(DIALECT);
  const raw = await startRaw();
  try {
    await timeDelivery(buildPushes(s, WARMUP).map(raw.retarget));
    await timeDelivery(buildPushes(s, WARMUP));
    const kefu: number[] = [];
    const base: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      base.push(await timeDelivery(buildPushes(s, N).map(raw.retarget)));
      kefu.push(await timeDelivery(buildPushes(s, N)));
    }
    // `success` means committed: every one of them is a stored message now.
    const { n } = await s.app.kefu.ctx.db
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('direction', '=', 'in')
      .executeTakeFirstOrThrow();
    const expected = WARMUP + ROUNDS * N;
    if (Number(n) !== expected || raw.count() !== expected)
      throw new Error(`stored ${n} (raw ${raw.count()}) messages, expected ${expected}`);
    console.log(
      `  ${N} pushes × ${ROUNDS} rounds, ${CONCURRENCY} in flight, ${CUSTOMERS} customers, ${DIALECT}; ` +
        `rounds kefu ${kefu.map((v) => v.toFixed(0)).join('/')} raw ${base.map((v) => v.toFixed(0)).join('/')} msg/s`,
    );
    return [ratioLine('push-ingest', median(kefu), median(base), 'msg/s')];
  } finally {
    await raw.close();
    await s.close();
  }
}
