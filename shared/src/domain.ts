import { z } from 'zod';

/** What the API returns: plain JSON views of the domain, shared by server and console. */

export const roleSchema = z.enum(['owner', 'admin', 'supervisor', 'agent']);
export type Role = z.infer<typeof roleSchema>;
export const agentStatusSchema = z.enum(['online', 'away', 'offline']);
export type AgentStatus = z.infer<typeof agentStatusSchema>;
export const conversationStateSchema = z.enum(['queued', 'active', 'idle', 'closed']);
export type ConversationState = z.infer<typeof conversationStateSchema>;
export const pushModeSchema = z.enum(['plaintext', 'compatible', 'safe']);
export const pushFormatSchema = z.enum(['xml', 'json']);

export const agentSchema = z.object({
  id: z.string(),
  login: z.string(),
  displayName: z.string(),
  role: roleSchema,
  status: agentStatusSchema,
  capacity: z.number().int(),
  autoAccept: z.boolean(),
  notifications: z.boolean(),
  disabled: z.boolean(),
  /** Channels the agent is bound to, and whether they serve each now. */
  channels: z.array(z.object({ channelId: z.string(), serving: z.boolean() })),
  activeCount: z.number().int(),
});
export type Agent = z.infer<typeof agentSchema>;

export const channelSchema = z.object({
  id: z.string(),
  kind: z.literal('wechat_mp'),
  name: z.string(),
  appId: z.string(),
  originalId: z.string(),
  mode: pushModeSchema,
  format: pushFormatSchema,
  tokenEndpoint: z.enum(['stable', 'classic']),
  idleMinutes: z.number().int(),
  /** The URL to paste into WeChat's console (消息推送配置). */
  pushUrl: z.string(),
  /** The Token to paste beside it (admins only; omitted for agents). */
  token: z.string().optional(),
  agentCount: z.number().int(),
  agentLimit: z.number().int(),
  /** Set when the mini program came from a third-party platform authorization. */
  platform: z
    .object({ id: z.string(), name: z.string(), state: z.enum(['authorized', 'unauthorized']) })
    .nullable()
    .optional(),
});
export type Channel = z.infer<typeof channelSchema>;

export const replyWindowSchema = z.object({
  /** Epoch ms after which the platform refuses replies; null = never opened. */
  expiresAt: z.number().nullable(),
  quotaLeft: z.number().int(),
  open: z.boolean(),
});
export type ReplyWindow = z.infer<typeof replyWindowSchema>;

export const customerSchema = z.object({
  id: z.string(),
  channelId: z.string(),
  openid: z.string(),
  nickname: z.string().nullable(),
  window: replyWindowSchema,
});
export type Customer = z.infer<typeof customerSchema>;

export const conversationSchema = z.object({
  id: z.string(),
  channelId: z.string(),
  customer: customerSchema,
  state: conversationStateSchema,
  agentId: z.string().nullable(),
  agentName: z.string().nullable(),
  preferredAgentId: z.string().nullable(),
  sessionFrom: z.string().nullable(),
  queuedAt: z.number().nullable(),
  acceptedAt: z.number().nullable(),
  lastMessageAt: z.number(),
  lastCustomerMessageAt: z.number().nullable(),
  lastPreview: z.string(),
  closedAt: z.number().nullable(),
  createdAt: z.number(),
});
export type Conversation = z.infer<typeof conversationSchema>;

export const messageKindSchema = z.enum([
  'text',
  'image',
  'miniprogrampage',
  'link',
  'event',
  'note',
]);
export type MessageKind = z.infer<typeof messageKindSchema>;

export const cardSchema = z.object({
  title: z.string(),
  pagePath: z.string(),
  appId: z.string().optional(),
  /** Kefu media id of the cover image. */
  thumbMediaId: z.string().nullable().optional(),
});
export const linkSchema = z.object({
  title: z.string(),
  description: z.string(),
  url: z.string().url(),
  thumbUrl: z.string().url(),
});

export const messageBodySchema = z.object({
  text: z.string().optional(),
  card: cardSchema.optional(),
  link: linkSchema.optional(),
  /** Event messages (context lines): what happened, e.g. 'entered', 'accepted', 'transferred'. */
  event: z.string().optional(),
  params: z.record(z.string(), z.string()).optional(),
});

export const messageSchema = z.object({
  id: z.string(),
  conversationId: z.string(),
  customerId: z.string(),
  seq: z.number().int(),
  direction: z.enum(['in', 'out', 'internal']),
  sender: z.enum(['customer', 'agent', 'system']),
  agentId: z.string().nullable(),
  kind: messageKindSchema,
  body: messageBodySchema,
  /** Kefu media id (GET /api/media/:id) for images. */
  mediaId: z.string().nullable(),
  clientId: z.string().nullable(),
  delivery: z.enum(['pending', 'sent', 'failed']).nullable(),
  errorCode: z.number().nullable(),
  errorReason: z.string().nullable(),
  createdAt: z.number(),
  sentAt: z.number().nullable(),
});
export type Message = z.infer<typeof messageSchema>;

export const quickReplySchema = z.object({
  id: z.string(),
  shortcut: z.string(),
  text: z.string(),
});
export type QuickReply = z.infer<typeof quickReplySchema>;
