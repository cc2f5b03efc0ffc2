import { createSim, type Sim } from '@kefu/wechat-sim';
import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { buildApp, type BuildOptions } from '../src/app';
import { loadConfig, type Config, type ConfigInput } from '../src/config';
import type { Dialect } from '../src/db/index';
import { createWorkspace } from '../src/modules/admin/workspace-service';
import { ApiClient } from './api-client';

/** Dialects every storage and integration test runs on (CI: sqlite,postgres). */
export const DIALECTS = (process.env.KEFU_TEST_DIALECTS ?? 'sqlite,postgres')
  .split(',')
  .map((d) => d.trim())
  .filter(Boolean) as Dialect[];

export const PG_URL = process.env.KEFU_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const rand = (n = 6) => randomBytes(n).toString('hex');

/** A fresh database per call: a temp SQLite file, or a new PostgreSQL schema dropped on cleanup. */
export function testConfig(
  dialect: Dialect,
  extra: ConfigInput = {},
): { config: Config; cleanup: () => Promise<void> } {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kefu-test-'));
  const schema = `t_${rand()}`;
  const config = loadConfig(
    {},
    {
      dataDir,
      databaseUrl: dialect === 'postgres' ? PG_URL : '',
      ...(dialect === 'postgres' ? { databaseSchema: schema } : {}),
      logLevel: 'warn',
      presenceGraceSeconds: 3600,
      outboxPollMs: 50,
      idleSweepMs: 3_600_000,
      // Hundreds of agents sign in across the suite: 2^14 (the pre-OWASP cost) keeps it fast.
      passwordCost: 14,
      // A loaded test machine can make a burst wait seconds: tests are about what is stored, so
      // only the admission tests (fault-sqlite) use the 3 s production bound.
      pushMaxWaitMs: 60_000,
      // Nor shed pushes because a test machine's loop is busy (push-gate.test.ts turns it on).
      pushShedBusy: 1,
      ...extra,
    },
  );
  return {
    config,
    cleanup: async () => {
      rmSync(dataDir, { recursive: true, force: true });
      if (dialect === 'postgres') {
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      }
    },
  };
}

export interface Stack {
  sim: Sim;
  app: FastifyInstance;
  url: string;
  owner: ApiClient;
  /** The owner's login (password `owner-pass-1`), for signing in through the console. */
  ownerLogin: string;
  workspaceId: string;
  channel: { id: string; appId: string };
  clock: { now: () => number; advance: (ms: number) => void };
  /** Creates an agent bound to the channel, signs in, and returns their client. */
  agent(
    name: string,
    opts?: { online?: boolean; autoAccept?: boolean; capacity?: number },
  ): Promise<ApiClient>;
  /** Adds another mini program to the workspace, wired on both sides; returns its ids. */
  addChannel(name: string): Promise<{ id: string; appId: string }>;
  close(): Promise<void>;
}

export interface StackOptions {
  mode?: 'plaintext' | 'compatible' | 'safe';
  format?: 'xml' | 'json';
  config?: ConfigInput;
  build?: BuildOptions;
}

/** Kefu and the WeChat emulator, each listening on port 0, with one mini program wired on both sides. */
export async function startStack(dialect: Dialect, opts: StackOptions = {}): Promise<Stack> {
  let offset = 0;
  const now = () => Date.now() + offset;
  const sim = await createSim({ now, pushTimeoutMs: 5000 });
  const simUrl = await sim.listen(0);
  const { config, cleanup } = testConfig(dialect, {
    allowedOutboundBases: [simUrl],
    wechatApiBase: simUrl,
    ...opts.config,
  });
  const app = await buildApp(config, { logger: false, now, ...opts.build });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const ctx = app.kefu.ctx;
  const { workspaceId } = await createWorkspace(ctx, {
    name: 'Test shop',
    login: `owner-${rand()}`,
    password: 'owner-pass-1',
  });
  const ownerRow = await ctx.db
    .selectFrom('agents')
    .select('login')
    .where('workspaceId', '=', workspaceId)
    .executeTakeFirstOrThrow();
  const owner = await ApiClient.login(url, ownerRow.login, 'owner-pass-1');
  const mode = opts.mode ?? 'safe';
  const format = opts.format ?? 'json';
  const addChannel = async (name: string) => {
    const appId = `wx${rand(8)}`;
    const token = `tok${rand(4)}`;
    const encodingAesKey = randomBytes(40)
      .toString('base64')
      .replace(/[^A-Za-z0-9]/g, '')
      .padEnd(43, 'A')
      .slice(0, 43);
    const appSecret = `secret${rand(8)}`;
    const originalId = `gh_${rand(6)}`;
    const created = await owner.post<{ id: string }>('/api/channels', {
      name,
      appId,
      originalId,
      appSecret,
      token,
      encodingAesKey,
      mode,
      format,
      apiBase: simUrl,
    });
    sim.addApp({
      appId,
      appSecret,
      originalId,
      token,
      encodingAesKey,
      mode,
      format,
      pushUrl: `${url}/wechat/${created.id}`,
    });
    return { id: created.id, appId };
  };
  const channel = await addChannel('Demo shop');

  return {
    sim,
    app,
    url,
    owner,
    ownerLogin: ownerRow.login,
    workspaceId,
    channel,
    addChannel,
    clock: {
      now,
      advance: (ms) => {
        offset += ms;
        sim.advanceTime(ms);
      },
    },
    async agent(name, o = {}) {
      const login = `${name}-${rand(3)}`;
      await owner.post('/api/agents', {
        login,
        displayName: name,
        password: 'agent-pass-1',
        capacity: o.capacity ?? 5,
        channelIds: [channel.id],
      });
      const client = await ApiClient.login(url, login, 'agent-pass-1');
      if (o.autoAccept) await client.put('/api/me/settings', { autoAccept: true });
      if (o.online !== false) await client.put('/api/me/status', { status: 'online' });
      return client;
    },
    async close() {
      await app.close();
      await sim.close();
      await cleanup();
    },
  };
}

/** Polls until `fn` returns a truthy value (or throws after `timeoutMs`). */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() - start > timeoutMs)
      throw new Error(
        `Timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 25));
  }
}
