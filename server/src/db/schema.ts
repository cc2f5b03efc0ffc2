import type { ColumnType, Generated } from 'kysely';

/**
 * Table types, camelCase (the CamelCasePlugin maps them to snake_case columns).
 * Timestamps are epoch milliseconds (bigint); booleans are 0/1 integers so one code path serves
 * SQLite and PostgreSQL alike.
 */
export interface Database {
  workspaces: WorkspaceTable;
  agents: AgentTable;
  sessions: SessionTable;
  channels: ChannelTable;
  channelAgents: ChannelAgentTable;
  customers: CustomerTable;
  conversations: ConversationTable;
  messages: MessageTable;
  media: MediaTable;
  outbox: OutboxTable;
  inboundKeys: InboundKeyTable;
  events: EventTable;
  quickReplies: QuickReplyTable;
  pushSubscriptions: PushSubscriptionTable;
  kv: KvTable;
  remindersSent: ReminderSentTable;
  clusterNodes: ClusterNodeTable;
  reminderRoutes: ReminderRouteTable;
  auditLog: AuditLogTable;
  rulesAcks: RulesAckTable;
  platforms: PlatformTable;
  platformGrants: PlatformGrantTable;
  platformAuthorizers: PlatformAuthorizerTable;
}

export interface ReminderSentTable {
  workspaceId: string;
  seq: number;
  createdAt: number;
}

export interface WorkspaceTable {
  id: string;
  name: string;
  eventSeq: number;
  sensitiveWords: string; // JSON array of strings
  createdAt: number;
  /** 'until_logout' (the default) or 'grace': see presence.ts. */
  presenceRule: Generated<PresenceRule>;
}

export type Role = 'owner' | 'admin' | 'supervisor' | 'agent';
export type AgentStatus = 'online' | 'away' | 'offline';

export interface AgentTable {
  id: string;
  workspaceId: string;
  login: string;
  displayName: string;
  passwordHash: string;
  role: Role;
  status: AgentStatus;
  capacity: number;
  autoAccept: number;
  notifications: number;
  lastAssignedAt: number;
  statusChangedAt: number;
  /** When the last live connection went away; null while connected. Drives the offline grace. */
  disconnectedAt: number | null;
  disabled: number;
  createdAt: number;
}

export interface SessionTable {
  id: string;
  workspaceId: string;
  agentId: string;
  tokenHash: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  revokedAt: number | null;
}

export type PushMode = 'plaintext' | 'compatible' | 'safe';
export type PushFormat = 'xml' | 'json';

export interface ChannelTable {
  id: string;
  workspaceId: string;
  kind: string; // 'wechat_mp'
  name: string;
  appId: string;
  originalId: string;
  secretsEnc: string; // encrypted JSON { appSecret, token, encodingAesKey }
  mode: PushMode;
  format: PushFormat;
  tokenEndpoint: 'stable' | 'classic';
  apiBase: string | null;
  idleMinutes: number;
  handbackPolicy: Generated<HandbackPolicy>;
  /** JSON BusinessHours (lib/business-hours.ts), or null: always open. */
  businessHours: string | null;
  /** JSON EntryPattern[]: how SessionFrom values read to agents. */
  entryPatterns: Generated<string>;
  createdAt: number;
  deletedAt: number | null;
  contentCheck: ColumnType<number, number | undefined, number>;
  contentCheckFailClosed: ColumnType<number, number | undefined, number>;
  /** Set when the channel came from a third-party platform authorization. */
  platformId: ColumnType<string | null, string | null | undefined, string | null>;
  platformState: ColumnType<
    'authorized' | 'unauthorized' | null,
    'authorized' | 'unauthorized' | null | undefined,
    'authorized' | 'unauthorized' | null
  >;
}

export type HandbackPolicy = 'never' | 'no_agent_online' | 'outside_hours' | 'always';

export interface ChannelAgentTable {
  channelId: string;
  agentId: string;
  workspaceId: string;
  /** The agent chose to serve this channel now (a subset of the bindings). */
  serving: number;
  createdAt: number;
}

export interface CustomerTable {
  id: string;
  workspaceId: string;
  channelId: string;
  openid: string;
  unionid: string | null;
  nickname: string | null;
  windowExpiresAt: number | null;
  windowQuota: number;
  lastMessageAt: number | null;
  createdAt: number;
}

export type ConversationState = 'queued' | 'active' | 'idle' | 'closed' | 'handed_back';

export interface ConversationTable {
  id: string;
  workspaceId: string;
  channelId: string;
  customerId: string;
  state: ConversationState;
  agentId: string | null;
  /** The last agent who held it; preferred when it comes back to the queue. */
  preferredAgentId: string | null;
  sessionFrom: string | null;
  nextSeq: number;
  queuedAt: number | null;
  acceptedAt: number | null;
  lastMessageAt: number;
  lastCustomerMessageAt: number | null;
  lastPreview: string;
  closedAt: number | null;
  /** Since when WeChat's own tool has it (state `handed_back`). */
  handedBackAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface MessageTable {
  id: string;
  workspaceId: string;
  channelId: string;
  conversationId: string;
  customerId: string;
  seq: number;
  direction: 'in' | 'out' | 'internal';
  sender: 'customer' | 'agent' | 'system';
  agentId: string | null;
  kind: string;
  body: string; // JSON
  mediaId: string | null;
  platformMsgId: string | null;
  clientId: string | null;
  delivery: 'pending' | 'sent' | 'failed' | null;
  errorCode: number | null;
  errorReason: string | null;
  createdAt: number;
  sentAt: number | null;
}

export interface MediaTable {
  id: string;
  workspaceId: string;
  mime: string;
  size: number;
  sha256: string;
  data: Buffer;
  platformMediaId: string | null;
  platformChannelId: string | null;
  platformExpiresAt: number | null;
  /** The agent who uploaded it; null for images fetched from the platform. */
  uploadedBy: string | null;
  /** The channel an inbound image came from (a picture or a card's cover); null for uploads. */
  channelId: string | null;
  createdAt: number;
}

export interface OutboxTable {
  id: Generated<number>;
  workspaceId: string;
  messageId: string;
  /** 'send' delivers an outgoing message; 'fetch_media' re-hosts an incoming image. */
  job: 'send' | 'fetch_media';
  channelId: string;
  /** Set on sends: a customer's replies go out in order, one at a time. */
  customerId: string | null;
  attempts: number;
  nextAttemptAt: number;
  lockedUntil: number | null;
  /** The process (cluster_nodes.id) holding the lease. */
  lockedBy: string | null;
  /** Fresh per claim: the claimer's later writes name it, so a job taken over is fenced off. */
  claimId: ColumnType<string | null, string | null | undefined, string | null>;
  /** Set (committed) just before the platform call; a job left with it set may have been sent. */
  sendingSince: ColumnType<number | null, number | null | undefined, number | null>;
  lastError: string | null;
  createdAt: number;
}

/** One running Kefu process and its heartbeat (see modules/cluster/node-heartbeat.ts). */
export interface ClusterNodeTable {
  /** `<nodeId>.<random>`: new on every start, so a restart is told apart from its predecessor. */
  id: string;
  nodeId: string;
  /** Host name and PID namespace: where `pid` means something. */
  host: string;
  pid: number;
  startedAt: number;
  beatAt: number;
}

export interface InboundKeyTable {
  channelId: string;
  dedupeKey: string;
  createdAt: number;
}

export interface EventTable {
  workspaceId: string;
  seq: number;
  channelId: string | null;
  /** Set when only one agent should see the event (their own status, settings). */
  agentId: string | null;
  name: string;
  payload: string; // JSON
  createdAt: number;
}

export interface QuickReplyTable {
  id: string;
  workspaceId: string;
  shortcut: string;
  text: string;
  createdAt: number;
}

export interface PushSubscriptionTable {
  id: string;
  workspaceId: string;
  agentId: string;
  endpoint: string;
  keys: string; // JSON { p256dh, auth }
  createdAt: number;
}

export interface KvTable {
  key: string;
  value: string;
}

export type PresenceRule = 'until_logout' | 'grace';
export type ReminderRoute = 'web_push' | 'wecom_robot';

/** One reminder route of one agent: its sealed settings and its last outcome. */
export interface ReminderRouteTable {
  agentId: string;
  route: ReminderRoute;
  workspaceId: string;
  /** Sealed JSON (wecom_robot: { key, mention }); null for web_push (its rows are subscriptions). */
  configEnc: string | null;
  lastOkAt: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  updatedAt: number;
}

/** One audited action (modules/audit). */
export interface AuditLogTable {
  workspaceId: string;
  id: string;
  at: number;
  actorId: string | null;
  actorName: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  details: string; // JSON object
  ip: string | null;
}

/** An agent's acknowledgement of one version of the usage rules. */
export interface RulesAckTable {
  workspaceId: string;
  agentId: string;
  version: string;
  ackedAt: number;
}
/** A WeChat Open Platform component (third-party platform), see migration 008. */
export interface PlatformTable {
  id: string;
  workspaceId: string;
  name: string;
  componentAppId: string;
  secretsEnc: string; // sealed { componentSecret, token, encodingAesKey }
  shared: number;
  apiBase: string | null;
  ticketEnc: string | null;
  ticketAt: number | null;
  createdAt: number;
}

export interface PlatformGrantTable {
  id: string;
  platformId: string;
  workspaceId: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

export interface PlatformAuthorizerTable {
  channelId: string;
  platformId: string;
  workspaceId: string;
  authorizerAppId: string;
  refreshEnc: string | null;
  funcInfo: string; // JSON array of permission-set ids
  updatedAt: number;
}
