import type { AppConfig } from '@kefu/wechat-sim';
import Database from 'better-sqlite3';
import path from 'node:path';
import pg from 'pg';
import type { Dialect } from '../server/src/db/index';
import { ApiClient } from '../server/test/api-client';
import { PG_URL, testConfig } from '../server/test/harness';
import { kefuEnv } from '../server/test/kefu-process';
import { startWorker, type Worker } from './ipc';

/** Kefu, the emulator and the load generator, each its own process, with one channel wired up. */
export interface BenchStack {
  kefu: Worker;
  kefuUrl: string;
  kefuPid: number;
  sim: Worker;
  simUrl: string;
  gen: Worker;
  owner: ApiClient;
  channelId: string;
  /** The channel as the emulator knows it (credentials and pushUrl): pushes are built from it. */
  app: AppConfig;
  dialect: Dialect;
  dataDir: string;
  /** Creates agents bound to the channel, signed in and online. */
  agents(prefix: string, n: number, capacity?: number): Promise<ApiClient[]>;
  /** MsgIds of the customer messages stored for the channel, read straight from the database. */
  storedMsgIds(): Promise<Set<string>>;
  /** Stops Kefu (SIGKILL, like a crash) and keeps the database. */
  stopKefu(): Promise<void>;
  close(): Promise<void>;
}

export interface StackOptions {
  dialect: Dialect;
  /** Extra KEFU_* variables for the Kefu process. */
  env?: Record<string, string>;
  /** Node flags for the Kefu process (e.g. --expose-gc). */
  nodeArgs?: string[];
  /** Reuse this generator instead of starting one (it outlives the stack). */
  gen?: Worker;
}

async function pool<T>(
  n: number,
  concurrency: number,
  fn: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, worker));
  return out;
}

/** Starts Kefu on a fresh database (temp SQLite file or a new PostgreSQL schema). */
export async function startBenchStack(opts: StackOptions): Promise<BenchStack> {
  const sim = await startWorker('sim-server.ts');
  const { url: simUrl } = await sim.call<{ url: string }>('listen');
  const { config, cleanup } = testConfig(opts.dialect, {
    allowedOutboundBases: [simUrl],
    wechatApiBase: simUrl,
  });
  // Production settings except: agents stay online without a socket (the benches sign in many
  // agents over REST first) and a cheaper password hash (100 sign-ins per bench).
  const env = kefuEnv(config, {
    KEFU_OUTBOX_POLL_MS: '500',
    KEFU_PRESENCE_GRACE_SECONDS: '3600',
    KEFU_PASSWORD_COST: '14',
    // The production admission bound (the test harness raises it for loaded test machines).
    KEFU_PUSH_MAX_WAIT_MS: '3000',
    KEFU_PUSH_SHED_BUSY: '0.9',
    KEFU_LOG_LEVEL: 'info',
    ...(process.env.KEFU_BENCH_SQLITE_SYNC_FULL === '1' ? { KEFU_SQLITE_SYNC_FULL: '1' } : {}),
    ...opts.env,
  });
  const kefu = await startWorker('kefu-server.ts', { env, nodeArgs: opts.nodeArgs ?? [] });
  const { url: kefuUrl, pid: kefuPid } = await kefu.call<{ url: string; pid: number }>('listen');
  const login = `bench-owner-${process.pid}`;
  await kefu.call('createWorkspace', { name: 'Bench shop', login, password: 'owner-pass-1' });
  const owner = await ApiClient.login(kefuUrl, login, 'owner-pass-1');
  const app0 = await sim.call<AppConfig>('addApp', { mode: 'safe', format: 'xml' });
  const channel = await owner.post<{ id: string }>('/api/channels', {
    name: 'Bench shop',
    appId: app0.appId,
    originalId: app0.originalId,
    appSecret: app0.appSecret,
    token: app0.token,
    encodingAesKey: app0.encodingAesKey,
    mode: 'safe',
    format: 'xml',
    apiBase: simUrl,
  });
  const app = await sim.call<AppConfig>('updateApp', {
    appId: app0.appId,
    partial: { pushUrl: `${kefuUrl}/wechat/${channel.id}` },
  });
  const gen = opts.gen ?? (await startWorker('loadgen.ts'));
  let kefuAlive = true;

  return {
    kefu,
    kefuUrl,
    kefuPid,
    sim,
    simUrl,
    gen,
    owner,
    channelId: channel.id,
    app,
    dialect: opts.dialect,
    dataDir: config.dataDir,
    agents: (prefix, n, capacity = 5) =>
      pool(n, 4, async (i) => {
        const agentLogin = `${prefix}-${i}-${process.pid}`;
        await owner.post('/api/agents', {
          login: agentLogin,
          displayName: `${prefix} ${i}`,
          password: 'agent-pass-1',
          capacity,
          channelIds: [channel.id],
        });
        const client = await ApiClient.login(kefuUrl, agentLogin, 'agent-pass-1');
        await client.put('/api/me/status', { status: 'online' });
        return client;
      }),
    async storedMsgIds() {
      if (opts.dialect === 'sqlite') {
        const db = new Database(path.join(config.dataDir, 'kefu.db'), { readonly: true });
        try {
          const rows = db
            .prepare(
              "select platform_msg_id as id from messages where channel_id = ? and direction = 'in'",
            )
            .all(channel.id) as { id: string | null }[];
          return new Set(rows.map((r) => r.id ?? ''));
        } finally {
          db.close();
        }
      }
      const client = new pg.Client({
        connectionString: PG_URL,
        options: `-c search_path=${config.databaseSchema}`,
      });
      await client.connect();
      try {
        const res = await client.query<{ id: string | null }>(
          "select platform_msg_id as id from messages where channel_id = $1 and direction = 'in'",
          [channel.id],
        );
        return new Set(res.rows.map((r) => r.id ?? ''));
      } finally {
        await client.end();
      }
    },
    async stopKefu() {
      kefuAlive = false;
      await kefu.kill();
    },
    async close() {
      if (kefuAlive) await kefu.call('close').catch(() => undefined);
      await kefu.kill();
      await sim.kill();
      if (!opts.gen) await gen.kill();
      await cleanup();
    },
  };
}
