import { createSim, type Sim } from '@kefu/wechat-sim';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { buildApp } from '../../src/app';
import type { Config } from '../../src/config';
import { createWorkspace } from '../../src/modules/admin/workspace-service';
import { ApiClient } from '../api-client';
import { REDIS_URL } from '../cluster-harness';
import { PG_URL, testConfig } from '../harness';
import { kefuEnv, startKefu, type KefuProcess } from '../kefu-process';
import type { FaultRecord } from './history';
import { startProxyHost, type RemoteProxy } from './remote-proxy';

/**
 * The system under test: 2–3 real `kefu start` processes on one fresh PostgreSQL schema and one
 * Redis prefix, each dependency (PostgreSQL, Redis, the WeChat emulator) behind a fault proxy.
 * The checker reads PostgreSQL directly (`config`), never through a proxy.
 */
export interface World {
  sim: Sim;
  proxies: Record<ProxyName, RemoteProxy>;
  /** The direct (unproxied) configuration: the checker's database. */
  config: Config;
  channel: { id: string; appId: string };
  agents: { name: string; login: string; password: string }[];
  nodes: NodeSlot[];
  /** URLs of nodes that are up now. */
  liveUrls(): string[];
  kill(node: number): Promise<void>;
  start(node: number): Promise<void>;
  /** Nodes that exited without being killed (a bug): restarted, and logged as `crash`. */
  watch(onCrash: (f: Omit<FaultRecord, 'at'>) => void): void;
  close(): Promise<void>;
}

export type ProxyName = 'pg' | 'redis' | 'wechat';

export interface NodeSlot {
  name: string;
  incarnation: number;
  proc?: KefuProcess;
  killing: boolean;
  /** Output tails of incarnations that died on their own. */
  crashes: string[];
  /** Boots that failed (and were retried), e.g. the database reset during migrations. */
  startFailures: string[];
  /** Output tails of incarnations that are gone (killed or crashed). */
  pastOutputs: string[];
}

const START_TRIES = 10;

/** Deletes every key under the run's Redis prefix (presence, tokens, rate limits). */
async function dropRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

const hex = (n: number) => randomBytes(n).toString('hex');

function hostPort(url: string, defaultPort: number): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || defaultPort) };
}

/** Builds the world: emulator, proxies, schema, workspace, channel, agents and `nodes` processes. */
export async function startWorld(opts: { nodes: number; agents: number }): Promise<World> {
  const sim = await createSim({ pushTimeoutMs: 5000 });
  const simUrl = await sim.listen(0);
  const host = await startProxyHost<ProxyName>({
    pg: hostPort(PG_URL, 5432),
    redis: hostPort(REDIS_URL, 6379),
    wechat: hostPort(simUrl, 80),
  });
  const { proxies } = host;
  const wechatBase = `http://127.0.0.1:${proxies.wechat.port}`;
  const tag = hex(4);
  const { config, cleanup } = testConfig('postgres', {
    allowedOutboundBases: [wechatBase],
    wechatApiBase: wechatBase,
    presenceGraceSeconds: 3600,
    outboxPollMs: 100,
  });
  const pgUrl = new URL(PG_URL);
  pgUrl.port = String(proxies.pg.port);
  const env = (name: string) =>
    kefuEnv(config, {
      KEFU_DATABASE_URL: pgUrl.toString(),
      KEFU_REDIS_URL: `redis://127.0.0.1:${proxies.redis.port}`,
      KEFU_REDIS_PREFIX: `kefu-chaos-${tag}:`,
      KEFU_NODE_ID: name,
    });

  const creds = {
    appId: `wx${hex(8)}`,
    originalId: `gh_${hex(6)}`,
    appSecret: `secret${hex(8)}`,
    token: `tok${hex(4)}`,
    encodingAesKey: randomBytes(48)
      .toString('base64')
      .replace(/[^A-Za-z0-9]/g, 'A')
      .slice(0, 43),
    mode: 'safe' as const,
    format: 'json' as const,
  };
  const agents = Array.from({ length: opts.agents }, (_, i) => ({
    name: `agent-${i}`,
    login: `chaos-${tag}-${i}`,
    password: 'agent-pass-1',
  }));
  // Workspace, channel and agents through an in-process app on the direct database, closed
  // before any node starts (so it is no part of the cluster).
  const setup = await buildApp(config, { workers: false, logger: false });
  let channelId = '';
  try {
    const url = await setup.listen({ port: 0, host: '127.0.0.1' });
    const login = `chaos-owner-${tag}`;
    await createWorkspace(setup.kefu.ctx, { name: 'Chaos shop', login, password: 'owner-pass-1' });
    const owner = await ApiClient.login(url, login, 'owner-pass-1');
    const channel = await owner.post<{ id: string }>('/api/channels', {
      name: 'Chaos shop',
      ...creds,
      apiBase: wechatBase,
    });
    channelId = channel.id;
    for (const a of agents) {
      await owner.post('/api/agents', {
        login: a.login,
        displayName: a.name,
        password: a.password,
        capacity: 100,
        channelIds: [channelId],
      });
    }
  } finally {
    await setup.close();
  }
  sim.addApp({ ...creds, pushUrl: `http://127.0.0.1:9/wechat/${channelId}` });

  const nodes: NodeSlot[] = Array.from({ length: opts.nodes }, (_, i) => ({
    name: `n${i + 1}`,
    incarnation: 0,
    killing: false,
    crashes: [],
    startFailures: [],
    pastOutputs: [],
  }));
  let watcher: NodeJS.Timeout | undefined;
  let closing = false;

  /** Boots node `i`, retried like a supervisor would. */
  async function bootNode(i: number): Promise<void> {
    const slot = nodes[i]!;
    // A process that cannot reach its database at boot exits; like a supervisor, try again.
    for (let attempt = 1; ; attempt++) {
      slot.incarnation += 1;
      try {
        // A fresh node id per incarnation, as a replaced machine would have.
        const name = `${slot.name}-${slot.incarnation}`;
        slot.proc = await startKefu(env(name), { timeoutMs: 90_000 });
        return;
      } catch (err) {
        slot.startFailures.push(String(err).slice(0, 300));
        if (attempt >= START_TRIES || closing) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  const booting = new Map<number, Promise<void>>();
  const world: World = {
    sim,
    proxies,
    config,
    channel: { id: channelId, appId: creds.appId },
    agents,
    nodes,
    liveUrls: () => nodes.flatMap((n) => (n.proc && !n.proc.exited ? [n.proc.url] : [])),
    async kill(i) {
      const slot = nodes[i]!;
      slot.killing = true;
      await slot.proc?.kill();
      if (slot.proc) slot.pastOutputs.push(slot.proc.output());
      slot.proc = undefined;
      slot.killing = false;
    },
    start(i) {
      // One boot per slot at a time: a second caller waits for the boot under way.
      const pending = booting.get(i);
      if (pending) return pending;
      const boot = bootNode(i).finally(() => booting.delete(i));
      booting.set(i, boot);
      return boot;
    },
    watch(onCrash) {
      watcher = setInterval(() => {
        for (const [i, slot] of nodes.entries()) {
          if (closing || slot.killing || !slot.proc?.exited) continue;
          slot.crashes.push(slot.proc.output());
          slot.pastOutputs.push(slot.proc.output());
          slot.proc = undefined;
          onCrash({ kind: 'crash', target: slot.name, detail: 'exited on its own; restarted' });
          void world.start(i).catch(() => undefined);
        }
      }, 250);
    },
    async close() {
      closing = true;
      clearInterval(watcher);
      await Promise.allSettled([...booting.values()]);
      for (const slot of nodes) await slot.proc?.kill();
      await host.close();
      await sim.close();
      await cleanup();
      await dropRedisKeys(`kefu-chaos-${tag}:`);
    },
  };
  try {
    for (const i of nodes.keys()) await world.start(i);
  } catch (err) {
    await world.close();
    throw err;
  }
  return world;
}
