import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import path from 'node:path';
import { openDatabase } from '../server/src/db/index';
import { serve } from './ipc';
import { now } from './lib';

/*
 * The raw SQLite baselines, in their own process, on Kefu's own schema (created by Kefu's
 * migrations) with Kefu's pragmas (WAL, synchronous = NORMAL, foreign keys on):
 * - batched inserts of the rows a push stores (customer, conversation, message), ~100 pushes per
 *   transaction, prepared statements, no HTTP (G1);
 * - seeding a huge conversation straight into a Kefu database file (G8);
 * - a bare HTTP server doing the plain indexed page lookup on that file (G8's baseline).
 */
let writer: Database.Database | undefined;
let serial = 0;

function pragmas(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
}

async function openWriter(dir: string): Promise<Database.Database> {
  if (writer) return writer;
  const kefu = await openDatabase({ url: '', dataDir: dir });
  await kefu.close();
  writer = new Database(path.join(dir, 'kefu.db'));
  pragmas(writer);
  const t = Date.now();
  writer
    .prepare('insert into workspaces (id, name, created_at) values (?, ?, ?)')
    .run('w', 'raw', t);
  writer
    .prepare(
      `insert into channels (id, workspace_id, kind, name, app_id, original_id, secrets_enc, mode,
       format, created_at) values ('c', 'w', 'wechat', 'raw', 'wxraw', 'gh_raw', '', 'safe', 'xml', ?)`,
    )
    .run(t);
  return writer;
}

serve({
  /** Inserts `pushes` pushes' rows in transactions of `batch`; returns pushes per second. */
  async batchedInsert(a: { dir: string; pushes: number; batch: number }) {
    const db = await openWriter(a.dir);
    const customer = db.prepare(
      `insert into customers (id, workspace_id, channel_id, openid, window_expires_at,
       window_quota, last_message_at, created_at) values (?, 'w', 'c', ?, ?, 5, ?, ?)
       on conflict (channel_id, openid) do update set window_expires_at = excluded.window_expires_at,
       window_quota = 5, last_message_at = excluded.last_message_at`,
    );
    const conversation = db.prepare(
      `insert into conversations (id, workspace_id, channel_id, customer_id, state, next_seq,
       queued_at, last_message_at, last_customer_message_at, last_preview, created_at, updated_at)
       values (?, 'w', 'c', ?, 'queued', 2, ?, ?, ?, ?, ?, ?)`,
    );
    const message = db.prepare(
      `insert into messages (id, workspace_id, channel_id, conversation_id, customer_id, seq,
       direction, sender, kind, body, platform_msg_id, created_at)
       values (?, 'w', 'c', ?, ?, 1, 'in', 'customer', 'text', ?, ?, ?)`,
    );
    const batch = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const n = ++serial;
        const t = Date.now();
        const cust = randomUUID();
        const conv = randomUUID();
        const text = `请问第 ${n} 件商品什么时候发货？`;
        customer.run(cust, `o-raw-${n}`, t + 172_800_000, t, t);
        conversation.run(conv, cust, t, t, t, text, t, t);
        message.run(randomUUID(), conv, cust, JSON.stringify({ text }), `raw-${n}`, t);
      }
    });
    const start = now();
    for (let i = 0; i < a.pushes; i += a.batch) batch(i, Math.min(a.pushes, i + a.batch));
    return (a.pushes / (now() - start)) * 1000;
  },

  /** Appends `rows` customer texts to one conversation of a stopped Kefu's database file. */
  seedHistory(a: { file: string; conversationId: string; rows: number; firstSeq: number }) {
    const db = new Database(a.file);
    pragmas(db);
    const conv = db
      .prepare('select workspace_id, channel_id, customer_id from conversations where id = ?')
      .get(a.conversationId) as { workspace_id: string; channel_id: string; customer_id: string };
    const insert = db.prepare(
      `insert into messages (id, workspace_id, channel_id, conversation_id, customer_id, seq,
       direction, sender, kind, body, platform_msg_id, created_at)
       values (?, ?, ?, ?, ?, ?, 'in', 'customer', 'text', ?, ?, ?)`,
    );
    const t0 = Date.now() - a.rows;
    const chunk = db.transaction((from: number, to: number) => {
      for (let seq = from; seq < to; seq++) {
        insert.run(
          `seed-${String(seq).padStart(9, '0')}`,
          conv.workspace_id,
          conv.channel_id,
          a.conversationId,
          conv.customer_id,
          seq,
          `{"text":"历史消息 ${seq}"}`,
          // Padded ids insert in index order: the B-trees grow at their right edge.
          `seed-${String(seq).padStart(9, '0')}`,
          t0 + seq,
        );
      }
    });
    const start = now();
    const end = a.firstSeq + a.rows;
    for (let s = a.firstSeq; s < end; s += 20_000) chunk(s, Math.min(end, s + 20_000));
    db.prepare('update conversations set next_seq = ? where id = ?').run(end, a.conversationId);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    return { rowsPerSecond: (a.rows / (now() - start)) * 1000 };
  },

  /** A bare HTTP server answering `GET /page?conv=&before=&limit=` with one indexed query. */
  lookupServer(a: { file: string }) {
    const db = new Database(a.file, { readonly: true });
    const page = db.prepare(
      'select * from messages where conversation_id = ? and seq < ? order by seq desc limit ?',
    );
    const server = createServer((req, res) => {
      const q = new URL(req.url ?? '/', 'http://x').searchParams;
      const rows = page.all(
        q.get('conv'),
        Number(q.get('before') ?? 2 ** 62),
        Number(q.get('limit') ?? 50),
      );
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ items: rows.reverse() }));
    });
    return new Promise((resolve) =>
      server.listen(0, '127.0.0.1', () => {
        const addr = server.address();
        resolve({ url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` });
      }),
    );
  },
});
