import { z } from 'zod';
import { LIMITS } from './limits';
import {
  agentStatusSchema,
  cardSchema,
  linkSchema,
  pushFormatSchema,
  pushModeSchema,
  roleSchema,
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
  state: z.enum(['queued', 'active', 'idle', 'closed', 'open']).optional(),
  mine: z.enum(['1', '0', 'true', 'false']).optional(),
  channelId: z.string().optional(),
  customerId: z.string().optional(),
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

export const createChannelBody = z.object({
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
  mode: pushModeSchema.default('safe'),
  format: pushFormatSchema.default('json'),
  tokenEndpoint: z.enum(['stable', 'classic']).default('stable'),
  idleMinutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .default(LIMITS.defaultIdleMinutes),
  /** Platform API base; for the emulator or a proxy. Must be allowed by the server config. */
  apiBase: z.string().url().nullable().optional(),
});
export const updateChannelBody = createChannelBody.partial();

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
  sensitiveWords: z.array(z.string().min(1).max(50)).max(1000),
});

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
