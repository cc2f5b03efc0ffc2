import { z } from 'zod';
import { LIMITS } from './limits';
import {
  agentStatusSchema,
  cardSchema,
  linkSchema,
  pushFormatSchema,
  pushModeSchema,
  roleSchema,
  auditActionSchema,
  auditEntrySchema,
} from './domain';

/** Request bodies and queries of the REST API (validated once at the edge). */

/**
 * An http(s) URL. `z.string().url()` alone accepts `javascript:`, `data:` or `vbscript:`, which
 * the customer's WeChat and the console would render as a link that runs code when clicked.
 */
const webUrl = z
  .string()
  .url()
  .max(2048)
  .regex(/^https?:\/\//i, 'must be an http: or https: URL');
/** A link an agent sends: both its target and its thumbnail must be web URLs. */
const sentLinkSchema = linkSchema.extend({ url: webUrl, thumbUrl: webUrl });

export const loginBody = z.object({
  login: z.string().min(1).max(100),
  password: z.string().min(1).max(200),
});
export const statusBody = z.object({ status: agentStatusSchema });
export const mySettingsBody = z.object({
  autoAccept: z.boolean().optional(),
  capacity: z.number().int().min(1).max(100).optional(),
  notifications: z.boolean().optional(),
  /** Which of my bound channels I serve now. */
  servingChannelIds: z.array(z.string().max(64)).max(500).optional(),
});

export const listConversationsQuery = z.object({
  state: z.enum(['queued', 'active', 'idle', 'closed', 'handed_back', 'open']).optional(),
  mine: z.enum(['1', '0', 'true', 'false']).optional(),
  channelId: z.string().optional(),
  customerId: z.string().optional(),
  /** Only the mini programs the caller serves (选择小程序帐号), not every one they are bound to. */
  serving: z.enum(['1', '0', 'true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(LIMITS.pageSize),
  /** Cursor: lastMessageAt of the last row of the previous page. */
  before: z.coerce.number().optional(),
});
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(LIMITS.pageSize),
  /** For conversation messages: seq; for customer history: createdAt. */
  before: z.coerce.number().optional(),
});

export const sendMessageBody = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('text'),
    clientId: z.string().min(1).max(64),
    text: z.string().trim().min(1).max(LIMITS.textMaxChars),
  }),
  z.object({
    kind: z.literal('image'),
    clientId: z.string().min(1).max(64),
    mediaId: z.string().min(1),
  }),
  z.object({
    kind: z.literal('miniprogrampage'),
    clientId: z.string().min(1).max(64),
    card: cardSchema,
  }),
  z.object({ kind: z.literal('link'), clientId: z.string().min(1).max(64), link: sentLinkSchema }),
]);
export type SendMessageBody = z.infer<typeof sendMessageBody>;

export const transferBody = z.object({
  agentId: z.string().min(1),
  note: z.string().max(500).optional(),
});

/** A mini program's fields without defaults: what an update may send (each one optional). */
const channelFields = z.object({
  name: z.string().min(1).max(100),
  appId: z
    .string()
    .regex(/^wx[0-9a-zA-Z]{8,30}$/, 'AppID looks like wx followed by letters and digits'),
  originalId: z.string().regex(/^gh_[0-9a-zA-Z]+$/, 'Original ID looks like gh_…'),
  appSecret: z.string().min(8).max(128),
  token: z.string().regex(/^[A-Za-z0-9]{3,32}$/, 'Token is 3–32 letters or digits'),
  encodingAesKey: z
    .string()
    .regex(/^[A-Za-z0-9]{43}$/, 'EncodingAESKey is 43 letters or digits')
    .nullable()
    .optional(),
  mode: pushModeSchema,
  format: pushFormatSchema,
  tokenEndpoint: z.enum(['stable', 'classic']),
  idleMinutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60),
  /** Platform API base; for the emulator or a proxy. Must be allowed by the server config. */
  apiBase: z.string().url().nullable().optional(),
  /** Check outgoing text with WeChat's msgSecCheck before sending (发送前内容安全检测). */
  contentCheck: z.boolean().optional(),
  /** When the check itself fails (WeChat busy, timeout): refuse the reply instead of sending. */
  contentCheckFailClosed: z.boolean().optional(),
});
export const createChannelBody = channelFields.extend({
  mode: channelFields.shape.mode.default('safe'),
  format: channelFields.shape.format.default('json'),
  tokenEndpoint: channelFields.shape.tokenEndpoint.default('stable'),
  idleMinutes: channelFields.shape.idleMinutes.default(LIMITS.defaultIdleMinutes),
});
/**
 * A PATCH: only the fields sent change. (`createChannelBody.partial()` kept the defaults, so a
 * PATCH of only idleMinutes switched a plaintext or XML channel to safe mode and JSON.)
 */
export const updateChannelBody = channelFields.partial();

export const createAgentBody = z.object({
  login: z
    .string()
    .min(2)
    .max(100)
    .regex(/^[A-Za-z0-9._@-]+$/),
  displayName: z.string().min(1).max(50),
  password: z.string().min(8).max(200),
  role: roleSchema.exclude(['owner']).default('agent'),
  capacity: z.number().int().min(1).max(100).default(LIMITS.defaultCapacity),
  channelIds: z.array(z.string()).default([]),
});
export const updateAgentBody = z.object({
  displayName: z.string().min(1).max(50).optional(),
  role: roleSchema.exclude(['owner']).optional(),
  capacity: z.number().int().min(1).max(100).optional(),
  disabled: z.boolean().optional(),
});
export const resetPasswordBody = z.object({ password: z.string().min(8).max(200) });
export const bindAgentsBody = z.object({ agentIds: z.array(z.string()).max(200) });

export const quickReplyBody = z.object({
  shortcut: z.string().min(1).max(30),
  text: z.string().min(1).max(LIMITS.textMaxChars),
});
export const workspaceSettingsBody = z.object({
  sensitiveWords: z.array(z.string().min(1).max(50)).max(1000).optional(),
  /** 'until_logout': online until the agent picks away or logs out; 'grace': offline after the grace period. */
  presenceRule: z.enum(['until_logout', 'grace']).optional(),
});

/** An agent's WeCom group robot: the webhook URL (or just its key) and whom to @ (userid or mobile). */
export const wecomRobotBody = z.object({
  webhook: z.string().trim().min(1).max(500),
  mention: z
    .string()
    .trim()
    .max(64)
    .regex(/^[A-Za-z0-9_.@-]*$/, 'a WeCom userid or a mobile number')
    .optional(),
});
export const reminderRouteSchema = z.enum(['web_push', 'wecom_robot']);
export type ReminderRoute = z.infer<typeof reminderRouteSchema>;
export const reminderTestBody = z.object({ route: reminderRouteSchema });

/** The last outcome of one reminder route, as the settings page shows it. */
export interface ReminderRouteStatus {
  lastOkAt: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
}
/** GET /api/me/reminders. */
export interface MyReminderRoutes {
  webPush: ReminderRouteStatus & { subscriptions: number };
  wecomRobot: (ReminderRouteStatus & { keyHint: string; mention: string }) | null;
  /** The workspace's presence rule, and the grace period when it is 'grace'. */
  presence: { rule: 'until_logout' | 'grace'; graceSeconds: number };
}
/** POST /api/me/reminders/test: whether the test reminder was accepted, and a sentence why not. */
export interface ReminderTestResult {
  ok: boolean;
  detail: string;
}
/** GET /api/admin/audit: newest first; `before` is the previous page's `next` cursor. */
export const auditQuery = z.object({
  actor: z.string().min(1).optional(),
  action: auditActionSchema.optional(),
  /** Epoch ms, inclusive. */
  from: z.coerce.number().int().nonnegative().optional(),
  /** Epoch ms, exclusive. */
  to: z.coerce.number().int().nonnegative().optional(),
  /** Matches the target's id or type, or the details (a substring, case-insensitive). */
  q: z.string().min(1).max(100).optional(),
  before: z
    .string()
    .regex(/^\d+:[A-Za-z0-9_-]+$/, 'a cursor from the previous page')
    .optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export const auditPageSchema = z.object({
  items: z.array(auditEntrySchema),
  /** Pass as `before` for the next (older) page; null at the end. */
  next: z.string().nullable(),
});
export type AuditPage = z.infer<typeof auditPageSchema>;

/** The usage rules an agent must acknowledge, and whether they did. */
export const usageRulesStateSchema = z.object({
  version: z.string(),
  ackedVersion: z.string().nullable(),
  ackedAt: z.number().int().nullable(),
});
export const usageRulesAckBody = z.object({ version: z.string().min(1).max(40) });
/** A third-party platform (WeChat Open Platform component) as its holder configures it. */
export const platformBody = z.object({
  name: z.string().min(1).max(100),
  componentAppId: z
    .string()
    .regex(/^wx[0-9a-zA-Z]{8,30}$/, 'Component AppID looks like wx followed by letters and digits'),
  componentSecret: z.string().min(8).max(128),
  token: z.string().regex(/^[A-Za-z0-9]{3,32}$/, 'Token is 3–32 letters or digits'),
  encodingAesKey: z.string().regex(/^[A-Za-z0-9]{43}$/, 'EncodingAESKey is 43 letters or digits'),
  /** Other workspaces of this installation may create authorization links with it. */
  shared: z.boolean().default(false),
  apiBase: z.string().url().nullable().optional(),
});
export const updatePlatformBody = platformBody.partial();

export const platformSchema = z.object({
  id: z.string(),
  name: z.string(),
  componentAppId: z.string(),
  /** Whether the caller's workspace holds (and may edit) the platform. */
  own: z.boolean(),
  shared: z.boolean(),
  /** The holder only: the Token to paste into the open platform. */
  token: z.string().optional(),
  /** 授权事件接收URL. */
  eventUrl: z.string(),
  /** 消息与事件接收URL, with WeChat's `$APPID$` placeholder. */
  messageUrl: z.string(),
  /** The domain to enter as 授权发起页域名. */
  authDomain: z.string(),
  /** When the latest component_verify_ticket arrived (ms), or null: none yet. */
  ticketAt: z.number().nullable(),
  authorizedCount: z.number().int(),
});
export type Platform = z.infer<typeof platformSchema>;

export const platformLinkSchema = z.object({ url: z.string(), expiresAt: z.number() });
