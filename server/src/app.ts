import fastifyCompress from '@fastify/compress';
import fastifyStatic from '@fastify/static';
import zlib from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import type { Server as NetServer } from 'node:net';
import path from 'node:path';
import type { Config } from './config';
import { makeTransact, type AppContext } from './context';
import { openDatabase, type DbHandle } from './db/index';
import { registerErrorHandler } from './http/errors';
import { PushGate } from './http/push-gate';
import { registerSecurityHeaders } from './http/security-headers';
import { serializeRequest } from './http/log-redact';
import { buildOpenApi } from './http/openapi';
import { createRateLimiter } from './lib/rate-limit';
import { SecretBox } from './lib/secret-box';
import { registerAdminRoutes } from './modules/admin/admin-routes';
import { registerRoutingRoutes } from './modules/admin/routing-routes';
import { registerAgentRoutes } from './modules/agents/agent-routes';
import type { ChannelAdapter } from './modules/channels/types';
import { createWechatAdapter } from './modules/channels/wechat/adapter';
import { RedisTokenStore } from './modules/channels/wechat/redis-token-store';
import { MemoryTokenStore } from './modules/channels/wechat/token-store';
import { connectRedis } from './lib/redis';
import { registerWechatPush } from './modules/channels/wechat/push-routes';
import { ChannelCache } from './modules/channels/channel-cache';
import { loadChannel } from './modules/channels/channel-store';
import { IngestWriter } from './modules/conversations/ingest-writer';
import { registerConversationRoutes } from './modules/conversations/conversation-routes';
import { registerHandbackRoutes } from './modules/conversations/handback-routes';
import { registerMessageRoutes } from './modules/messages/message-routes';
import { MemoryBus, RedisBus, type EventBus } from './modules/realtime/bus';
import { Gateway } from './modules/realtime/gateway';
import { Presence } from './modules/realtime/presence';
import { Workers } from './workers';
import { Reminders } from './modules/notifications/reminder-dispatch';
import { registerReminderRoutes } from './modules/notifications/reminder-routes';
import { registerPushRoutes } from './modules/notifications/push-routes';
import { registerAuditRoutes } from './modules/audit/audit-routes';
import { registerPlatformRoutes } from './modules/platform/platform-routes';
import { PlatformTokens } from './modules/platform/platform-tokens';

export interface BuildOptions {
  /** The clock every service reads (tests move it). */
  now?: () => number;
  /** Start the outbox, assignment and sweep loops (default true). */
  workers?: boolean;
  adapters?: Record<string, ChannelAdapter>;
  logger?: boolean;
  /** Write the log to this file instead of stdout (benchmarks keep production logging). */
  logFile?: string;
}

export interface Kefu {
  ctx: AppContext;
  workers: Workers;
  gateway: Gateway;
  presence: Presence;
  db: DbHandle;
  reminders: Reminders;
  /** Extra listening sockets on the same port (http/listen.ts), closed with the app. */
  acceptors: NetServer[];
}

declare module 'fastify' {
  interface FastifyInstance {
    kefu: Kefu;
  }
}

/** Builds the whole service as a Fastify instance; it never listens (main.ts and tests do). */
export async function buildApp(config: Config, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const gate = new PushGate(config.pushMaxWaitMs, config.pushShedBusy);
  const app = Fastify({
    serverFactory: gate.factory,
    logger:
      opts.logger === false
        ? false
        : {
            level: config.logLevel,
            serializers: { req: serializeRequest },
            ...(opts.logFile ? { file: opts.logFile } : {}),
          },
    bodyLimit: 1024 * 1024,
    trustProxy: config.trustProxy,
  });
  const db = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    schema: config.databaseSchema,
    applicationName: `kefu:${config.nodeId}`,
    sqliteBusyMs: config.sqliteBusyMs,
    sqliteSyncFull: config.sqliteSyncFull,
    onPoolError: (err) => app.log.warn({ err }, 'database connection lost; the pool reconnects'),
  });
  const bus: EventBus = config.redisUrl
    ? new RedisBus(config.redisUrl, config.redisPrefix, app.log)
    : new MemoryBus(app.log);
  const kicks = {
    outbox: () => workers.kickOutbox(),
    assignment: (w: string, c: string) => workers.kickAssignment(w, c),
  };
  const base = {
    config,
    db: db.db,
    dialect: db.dialect,
    now: opts.now ?? Date.now,
    log: app.log,
    secrets: new SecretBox(config.secretKey),
    notifier: bus,
    kicks,
    adapters: {} as Record<string, ChannelAdapter>,
  };
  // In a cluster one access token per mini program is shared through Redis (single-flight
  // refresh), and so are the sign-in and reply limits (N nodes must not allow N times as many).
  const redis = config.redisUrl ? connectRedis(config.redisUrl, app.log, 'shared') : null;
  const channels = new ChannelCache((id) => loadChannel(ctx, id));
  // A channel edited on any node is dropped from every node's cache at once.
  channels.announceWith((id) => bus.channelChanged(id));
  bus.onChannelChanged((id) => channels.forget(id));
  const limited = {
    ...base,
    channels,
    rateLimiter: createRateLimiter(redis, config.redisPrefix, app.log),
  };
  const ctx: AppContext = { ...limited, transact: makeTransact(limited) };
  const ingest = new IngestWriter(ctx);
  gate.attach(ingest, app.log);
  const tokenStore = redis
    ? new RedisTokenStore(redis, config.redisPrefix, config.nodeId)
    : undefined;
  // Third-party platforms: component and authorizer tokens share the mini programs' store.
  // One store for both, so a token seeded at authorization is the one the sender finds.
  const tokens = tokenStore ?? new MemoryTokenStore();
  const platformTokens = new PlatformTokens(ctx, tokens);
  Object.assign(
    ctx.adapters,
    { wechat_mp: createWechatAdapter(ctx, tokens, (c) => platformTokens.sourceFor(c)) },
    opts.adapters,
  );
  if (config.redisUrl && !process.env.KEFU_SECRET_KEY) {
    app.log.warn(
      'Cluster mode without KEFU_SECRET_KEY: each node uses its own key file, so nodes cannot read channels saved by the others. Set the same KEFU_SECRET_KEY on every node.',
    );
  }
  const presence = new Presence(ctx);
  const gateway = new Gateway(ctx, bus, presence);
  const reminders = new Reminders(ctx, presence);
  const workers = new Workers(ctx, presence, gateway, reminders);
  bus.subscribe((workspaceId) => workers.kickReminders(workspaceId));
  const acceptors: NetServer[] = [];
  app.decorate('kefu', { ctx, workers, gateway, presence, db, reminders, acceptors });

  app.addContentTypeParser(
    ['image/png', 'image/jpeg', 'image/gif', 'application/octet-stream'],
    { parseAs: 'buffer', bodyLimit: 3 * 1024 * 1024 },
    (_r, body, done) => done(null, body),
  );
  registerErrorHandler(app, gate);
  registerSecurityHeaders(app);
  // API answers above a couple of KB (lists, history pages) go compressed to browsers that
  // accept it; brotli at a low quality, since these are made per request. Static files are
  // precompressed at build time, pushes and small answers stay as they are.
  await app.register(fastifyCompress, {
    global: true,
    threshold: 2048,
    encodings: ['br', 'gzip'],
    customTypes: /^application\/json/,
    brotliOptions: { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } },
  });
  registerWechatPush(app, ctx, ingest);
  registerAgentRoutes(app, ctx);
  registerAdminRoutes(app, ctx);
  registerConversationRoutes(app, ctx);
  registerHandbackRoutes(app, ctx);
  registerRoutingRoutes(app, ctx);
  registerMessageRoutes(app, ctx);
  registerPushRoutes(app, ctx);
  registerReminderRoutes(app, ctx);
  registerAuditRoutes(app, ctx);
  registerPlatformRoutes(app, ctx, ingest, platformTokens);
  app.get('/api/openapi.json', async () => buildOpenApi());
  app.get('/api/health', async () => ({ ok: true, dialect: db.dialect, node: config.nodeId }));

  // The console (web/dist) is served from the same origin when it has been built.
  const webDir = config.webDir ?? path.resolve(import.meta.dirname, '../../web/dist');
  const serveWeb = existsSync(path.join(webDir, 'index.html'));
  if (serveWeb) {
    await app.register(fastifyStatic, {
      root: webDir,
      wildcard: true,
      // The build writes .br and .gz beside each file (web/scripts/compress.mjs): sent as they
      // are to a browser that accepts them, never compressed per request.
      preCompressed: true,
      // Our own cache-control below; send's default (max-age=0) would override it.
      cacheControl: false,
      // The service worker and the page must never be stale; hashed assets can be cached forever.
      // `file` is the one sent: with preCompressed, often the .br or .gz beside the original.
      setHeaders: (res, file) => {
        if (/(sw\.js|index\.html|manifest\.webmanifest)(\.br|\.gz)?$/.test(file))
          res.setHeader('cache-control', 'no-cache');
        else if (file.includes(`${path.sep}assets${path.sep}`))
          res.setHeader('cache-control', 'public, max-age=31536000, immutable');
        // Unhashed files (icons): a day, revalidated after.
        else res.setHeader('cache-control', 'public, max-age=86400');
      },
    });
  }
  app.setNotFoundHandler((req, reply) => {
    const api = /^\/(api|wechat|assets)\//.test(req.url);
    if (serveWeb && !api && req.method === 'GET') return reply.sendFile('index.html');
    return reply
      .code(404)
      .send({ code: 'NOT_FOUND', message: `No route ${req.method} ${req.url.split('?')[0]}` });
  });

  gateway.attach(app);
  if (opts.workers !== false) app.addHook('onReady', () => workers.start());
  // Upgraded sockets hold the HTTP server open: end them before Fastify waits for it to close,
  // or `close()` (and so a SIGTERM shutdown) hangs while any console is connected.
  app.addHook('preClose', async () => {
    for (const a of acceptors) a.close();
    await gateway.close();
  });
  // Pushes already taken are committed (and answered) before the database closes.
  app.addHook('onClose', async () => {
    await ingest.drain();
    gate.close();
  });
  app.addHook('onClose', async () => {
    await workers.stop();
    await presence.close();
    await bus.close();
    redis?.disconnect();
    await db.close();
  });
  return app;
}
