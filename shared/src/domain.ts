import { z } from 'zod';
import { entryPatternSchema, handbackPolicySchema } from './routing';

/** What the API returns: plain JSON views of the domain, shared by server and console. */

export const roleSchema = z.enum(['owner', 'admin', 'supervisor', 'agent']);
export type Role = z.infer<typeof roleSchema>;
export const agentStatusSchema = z.enum(['online', 'away', 'offline']);
export type AgentStatus = z.infer<typeof agentStatusSchema>;
/** `handed_back`: WeChat's own customer-service tool has the customer; Kefu only records. */
export const conversationStateSchema = z.enum([
  'queued',
  'active',
  'idle',
  'closed',
  'handed_back',
]);
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
  /** When customers go to WeChat's own tool (see routing.ts). */
  handbackPolicy: handbackPolicySchema,
  /** How the contact button's SessionFrom reads to agents. */
  entryPatterns: z.array(entryPatternSchema),
  /** Outgoing text is checked with WeChat's msgSecCheck first. */
  contentCheck: z.boolean(),
  contentCheckFailClosed: z.boolean(),
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
  /** Since when WeChat's own tool has it (state `handed_back`), else null. */
  handedBackAt: z.number().nullable(),
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

/**
 * Everything the audit log records (server/src/modules/audit). `export.messages` is reserved for
 * exports.
 */
export const AUDIT_ACTIONS = [
  'auth.sign_in',
  'auth.sign_in_failed',
  'auth.sign_out',
  'agent.status_change',
  'agent.my_settings',
  'agent.create',
  'agent.update',
  'agent.disable',
  'agent.password_reset',
  'agent.rules_ack',
  'conversation.accept',
  'conversation.auto_assign',
  'conversation.transfer',
  'conversation.close',
  'conversation.hand_back',
  'conversation.take_back',
  'channel.create',
  'channel.update',
  'channel.delete',
  'channel.bindings',
  'channel.routing',
  'workspace.settings',
  'quick_reply.create',
  'quick_reply.delete',
  'message.content_blocked',
  'message.content_review',
  'export.messages',
] as const;
export const auditActionSchema = z.enum(AUDIT_ACTIONS);
export type AuditAction = z.infer<typeof auditActionSchema>;

/** One audit row as the admin page shows it. */
export const auditEntrySchema = z.object({
  id: z.string(),
  at: z.number().int(),
  /** Null for the system (auto-assign) and for a failed sign-in of a login nobody holds. */
  actorId: z.string().nullable(),
  /** The actor's name when the entry was written (it stays readable after a rename). */
  actorName: z.string(),
  action: auditActionSchema,
  targetType: z.string().nullable(),
  targetId: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  ip: z.string().nullable(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;

/**
 * The version of WeChat's customer-service usage rules (运营规范) the console shows. Raising it
 * makes every agent read and acknowledge the rules again at their next sign-in.
 */
export const USAGE_RULES_VERSION = '2026-12-01';
