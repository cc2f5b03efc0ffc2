import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const schema = z.object({
  host: z.string().default('0.0.0.0'),
  port: z.coerce.number().int().min(0).max(65535).default(3000),
  dataDir: z.string().default('./data'),
  /** `sqlite:<path>` / a file path, or `postgres://…`. Empty = SQLite in dataDir. */
  databaseUrl: z.string().default(''),
  /** PostgreSQL schema (search_path); tests use one fresh schema per run. */
  databaseSchema: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/)
    .optional(),
  redisUrl: z.string().optional(),
  /** Prefix of every Redis key and channel, so several deployments (or tests) share a server. */
  redisPrefix: z.string().default('kefu:'),
  /** Base64 of 32 bytes; encrypts channel secrets at rest. Generated into dataDir when absent. */
  secretKey: z.string().optional(),
  /** How this deployment is reached from outside; shown as the push URL to paste into WeChat. */
  publicUrl: z.string().url().optional(),
  wechatApiBase: z.string().url().default('https://api.weixin.qq.com'),
  /** Where third-party authorization links point (the emulator in tests); a browser opens it. */
  wechatAuthPageBase: z.string().url().default('https://mp.weixin.qq.com'),
  /** Extra platform base URLs outbound HTTP may reach (comma-separated in the env). */
  allowedOutboundBases: z.array(z.string().url()).default([]),
  presenceGraceSeconds: z.coerce.number().int().min(0).default(60),
  outboxPollMs: z.coerce.number().int().min(10).default(500),
  idleSweepMs: z.coerce.number().int().min(100).default(30_000),
  pushBodyLimit: z.coerce
    .number()
    .int()
    .min(1024)
    .default(256 * 1024),
  /**
   * Refuse pushes whose signed `timestamp` is further than this from now (seconds; 0 = off).
   * Bounds the replay of a leaked signed URL; keep it well above WeChat's retry span (3 tries,
   * 5 s apart) and the clock skew between WeChat and this server.
   */
  pushMaxAgeSeconds: z.coerce.number().int().min(0).default(0),
  /**
   * A push whose expected wait for the database is longer than this (ms) is refused at once with
   * 503, and one that waited this long is dropped uncommitted: WeChat gives up at 5 s and retries.
   */
  pushMaxWaitMs: z.coerce.number().int().min(100).default(3000),
  /**
   * Event-loop utilization (0.5–1) past which, with pushes queueing, fewer pushes are let in
   * (http/push-limit.ts); 1 turns that off.
   */
  pushShedBusy: z.coerce.number().min(0.5).max(1).default(0.9),
  /** PostgreSQL: push writers running side by side (SQLite always has one). */
  pushWriters: z.coerce.number().int().min(1).max(32).default(4),
  /** Pushes committed together in one transaction, at most. */
  pushBatchMax: z.coerce.number().int().min(1).max(1000).default(64),
  /** SQLite: how long a write waits for another process's lock before giving up (ms). */
  sqliteBusyMs: z.coerce.number().int().min(0).default(30_000),
  /** SQLite: fsync every commit (`synchronous = FULL`) instead of WAL's NORMAL. */
  sqliteSyncFull: z
    .union([z.boolean(), z.string()])
    .transform((v) => v === true || v === 'true' || v === '1')
    .default(false),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Serve the built console from this folder when it exists. */
  webDir: z.string().optional(),
  nodeId: z.string().default(() => randomBytes(4).toString('hex')),
  /**
   * log2 of scrypt's N for new password hashes (r=8, p=1). The default, 17, is OWASP's minimum;
   * the test suite lowers it to 14 because it creates hundreds of agents.
   */
  passwordCost: z.coerce.number().int().min(14).max(20).default(17),
  /** Behind a reverse proxy: trust X-Forwarded-For for client addresses (login rate limit). */
  trustProxy: z
    .union([z.boolean(), z.string()])
    .transform((v) => v === true || v === 'true' || v === '1')
    .default(false),
  /**
   * The VAPID contact push services see (`mailto:` or `https:`; web-push refuses anything else).
   * Unset: derived from the public URL (see notifications/web-push.ts).
   */
  vapidSubject: z
    .string()
    .regex(/^(mailto:[^\s@]+@[^\s@]+|https:\/\/\S+)$/, 'must be a mailto: address or an https: URL')
    .optional(),
  /** Where WeCom group-robot webhooks are posted (tests point it at a local fake). */
  wecomRobotBase: z.string().url().default('https://qyapi.weixin.qq.com'),
});

export type Config = z.infer<typeof schema> & { secretKey: string };
export type ConfigInput = z.input<typeof schema>;

const ENV: Record<string, keyof ConfigInput> = {
  KEFU_HOST: 'host',
  KEFU_PORT: 'port',
  KEFU_DATA_DIR: 'dataDir',
  KEFU_DATABASE_URL: 'databaseUrl',
  KEFU_DATABASE_SCHEMA: 'databaseSchema',
  KEFU_REDIS_URL: 'redisUrl',
  KEFU_REDIS_PREFIX: 'redisPrefix',
  KEFU_SECRET_KEY: 'secretKey',
  KEFU_PUBLIC_URL: 'publicUrl',
  KEFU_WECHAT_API_BASE: 'wechatApiBase',
  KEFU_WECHAT_AUTH_PAGE_BASE: 'wechatAuthPageBase',
  KEFU_PRESENCE_GRACE_SECONDS: 'presenceGraceSeconds',
  KEFU_OUTBOX_POLL_MS: 'outboxPollMs',
  KEFU_LOG_LEVEL: 'logLevel',
  KEFU_PUSH_MAX_AGE_SECONDS: 'pushMaxAgeSeconds',
  KEFU_PUSH_MAX_WAIT_MS: 'pushMaxWaitMs',
  KEFU_PUSH_SHED_BUSY: 'pushShedBusy',
  KEFU_PUSH_BATCH_MAX: 'pushBatchMax',
  KEFU_PUSH_WRITERS: 'pushWriters',
  KEFU_SQLITE_BUSY_MS: 'sqliteBusyMs',
  KEFU_SQLITE_SYNC_FULL: 'sqliteSyncFull',
  KEFU_WEB_DIR: 'webDir',
  KEFU_TRUST_PROXY: 'trustProxy',
  KEFU_NODE_ID: 'nodeId',
  KEFU_PASSWORD_COST: 'passwordCost',
  KEFU_VAPID_SUBJECT: 'vapidSubject',
  KEFU_WECOM_ROBOT_BASE: 'wecomRobotBase',
};

/** Reads KEFU_* variables, applies overrides, validates, and fails fast with the bad field. */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: ConfigInput = {},
): Config {
  const raw: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV)) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  if (env.KEFU_ALLOWED_OUTBOUND) raw.allowedOutboundBases = env.KEFU_ALLOWED_OUTBOUND.split(',');
  const parsed = schema.safeParse({ ...raw, ...overrides });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`Invalid configuration: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  const config = parsed.data;
  return { ...config, secretKey: config.secretKey ?? loadOrCreateSecretKey(config.dataDir) };
}

function loadOrCreateSecretKey(dataDir: string): string {
  const file = path.join(dataDir, 'secret.key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32).toString('base64');
  writeFileSync(file, key + '\n', { mode: 0o600 });
  return key;
}
