import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import { buildApp } from '../src/app';
import type { ConfigInput } from '../src/config';
import { createWorkspace } from '../src/modules/admin/workspace-service';
import { ApiClient } from './api-client';
import { testConfig } from './harness';

export const REDIS_URL = process.env.KEFU_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Two Kefu processes' worth of nodes sharing one database and one Redis, as in production. */
export interface Cluster {
  /** Random per cluster: the Redis prefix and the owner's login are made from it. */
  tag: string;
  /** node-a and node-b. */
  nodes: FastifyInstance[];
  urls: string[];
  close(): Promise<void>;
}

/** Two nodes on one fresh PostgreSQL schema and one fresh Redis key prefix. */
export async function startCluster(extra: ConfigInput = {}): Promise<Cluster> {
  const tag = randomBytes(4).toString('hex');
  const base = testConfig('postgres', {
    redisUrl: REDIS_URL,
    redisPrefix: `kefu-test-${tag}:`,
    ...extra,
  });
  const nodes: FastifyInstance[] = [];
  const urls: string[] = [];
  for (const nodeId of ['node-a', 'node-b']) {
    const app = await buildApp({ ...base.config, nodeId }, { logger: false });
    nodes.push(app);
    urls.push(await app.listen({ port: 0, host: '127.0.0.1' }));
  }
  return {
    tag,
    nodes,
    urls,
    async close() {
      for (const n of nodes) await n.close();
      await base.cleanup();
    },
  };
}

/** Creates a workspace (`<tag>-owner` / owner-pass-1) and signs its owner in through `url`. */
export async function clusterOwner(c: Cluster, url = c.urls[0]!, tag = c.tag): Promise<ApiClient> {
  await createWorkspace(c.nodes[0]!.kefu.ctx, {
    name: `Cluster shop ${tag}`,
    login: `${tag}-owner`,
    password: 'owner-pass-1',
  });
  return ApiClient.login(url, `${tag}-owner`, 'owner-pass-1');
}
