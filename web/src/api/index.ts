import type {
  Agent,
  AgentStatus,
  Channel,
  ChannelRouting,
  Conversation,
  Customer,
  Message,
  QuickReply,
  SendMessageBody,
  bindAgentsBody,
  createAgentBody,
  createChannelBody,
  listConversationsQuery,
  mySettingsBody,
  quickReplyBody,
  updateAgentBody,
  updateChannelBody,
  workspaceSettingsBody,
} from '@kefu/shared';
import type { z } from 'zod';
import { request } from './http';

export type MySettings = z.input<typeof mySettingsBody>;
export type ConversationQuery = Omit<z.input<typeof listConversationsQuery>, 'limit' | 'before'> & {
  limit?: number;
  before?: number;
};
export type CreateChannel = z.input<typeof createChannelBody>;
export type UpdateChannel = z.input<typeof updateChannelBody>;
export type CreateAgent = z.input<typeof createAgentBody>;
export type UpdateAgent = z.input<typeof updateAgentBody>;
export type NewQuickReply = z.input<typeof quickReplyBody>;
export type WorkspaceSettings = z.input<typeof workspaceSettingsBody>;
export type BindAgents = z.input<typeof bindAgentsBody>;

export interface Me {
  agent: Agent;
  channels: Channel[];
  quickReplies: QuickReply[];
  workspace: { id: string; name: string };
}
export interface Items<T> {
  items: T[];
}
export interface UploadedMedia {
  id: string;
  mime: string;
  size: number;
}

const enc = encodeURIComponent;

/** Every REST call the console makes, typed from `@kefu/shared`. */
export const api = {
  login: (login: string, password: string) =>
    request<{ agent: Agent }>('POST', '/api/auth/login', {
      body: { login, password },
    }),
  logout: () => request<void>('POST', '/api/auth/logout'),
  me: () => request<Me>('GET', '/api/me'),
  setStatus: (status: AgentStatus) => request<Agent>('PUT', '/api/me/status', { body: { status } }),
  updateMySettings: (body: MySettings) => request<Agent>('PUT', '/api/me/settings', { body }),

  conversations: (query: ConversationQuery) =>
    request<Items<Conversation>>('GET', '/api/conversations', { query }),
  conversation: (id: string) => request<Conversation>('GET', `/api/conversations/${enc(id)}`),
  accept: (id: string) => request<Conversation>('POST', `/api/conversations/${enc(id)}/accept`),
  close: (id: string) => request<Conversation>('POST', `/api/conversations/${enc(id)}/close`),
  handBack: (id: string) => request<Conversation>('POST', `/api/conversations/${enc(id)}/handback`),
  takeBack: (id: string) => request<Conversation>('POST', `/api/conversations/${enc(id)}/takeback`),
  routing: (channelId: string) =>
    request<ChannelRouting>('GET', `/api/channels/${enc(channelId)}/routing`),
  putRouting: (channelId: string, body: ChannelRouting) =>
    request<ChannelRouting>('PUT', `/api/channels/${enc(channelId)}/routing`, { body }),
  transfer: (id: string, agentId: string, note?: string) =>
    request<Conversation>('POST', `/api/conversations/${enc(id)}/transfer`, {
      body: note ? { agentId, note } : { agentId },
    }),
  messages: (id: string, before?: number, limit = 50) =>
    request<Items<Message>>('GET', `/api/conversations/${enc(id)}/messages`, {
      query: { before, limit },
    }),
  send: (id: string, body: SendMessageBody) =>
    request<Message>('POST', `/api/conversations/${enc(id)}/messages`, { body }),
  retry: (messageId: string) => request<Message>('POST', `/api/messages/${enc(messageId)}/retry`),
  typing: (id: string) => request<void>('POST', `/api/conversations/${enc(id)}/typing`),
  upload: (file: Blob) => request<UploadedMedia>('POST', '/api/media', { raw: file }),

  customer: (id: string) =>
    request<{ customer: Customer; conversations: Conversation[] }>(
      'GET',
      `/api/customers/${enc(id)}`,
    ),
  search: (q: string, before?: number) =>
    request<Items<Message>>(
      'GET',
      `/api/messages/search?q=${encodeURIComponent(q)}&limit=50${before ? `&before=${before}` : ''}`,
    ),
  agents: () => request<Items<Agent>>('GET', '/api/agents'),

  channels: () => request<Items<Channel>>('GET', '/api/channels'),
  createChannel: (body: CreateChannel) => request<Channel>('POST', '/api/channels', { body }),
  updateChannel: (id: string, body: UpdateChannel) =>
    request<Channel>('PATCH', `/api/channels/${enc(id)}`, { body }),
  deleteChannel: (id: string) => request<void>('DELETE', `/api/channels/${enc(id)}`),
  testChannel: (id: string) =>
    request<{ ok: boolean; error?: string }>('POST', `/api/channels/${enc(id)}/test`),
  bindAgents: (id: string, body: BindAgents) =>
    request<Items<Agent>>('PUT', `/api/channels/${enc(id)}/agents`, { body }),

  createAgent: (body: CreateAgent) => request<Agent>('POST', '/api/agents', { body }),
  updateAgent: (id: string, body: UpdateAgent) =>
    request<Agent>('PATCH', `/api/agents/${enc(id)}`, { body }),
  resetPassword: (id: string, password: string) =>
    request<void>('POST', `/api/agents/${enc(id)}/password`, { body: { password } }),

  quickReplies: () => request<Items<QuickReply>>('GET', '/api/quick-replies'),
  createQuickReply: (body: NewQuickReply) =>
    request<QuickReply>('POST', '/api/quick-replies', { body }),
  deleteQuickReply: (id: string) => request<void>('DELETE', `/api/quick-replies/${enc(id)}`),
  settings: () => request<{ sensitiveWords: string[] }>('GET', '/api/settings'),
  saveSettings: (body: WorkspaceSettings) =>
    request<{ sensitiveWords: string[] }>('PUT', '/api/settings', { body }),

  vapidKey: () => request<{ key: string }>('GET', '/api/push/vapid-public-key'),
  subscribePush: (body: { endpoint: string; keys: { p256dh: string; auth: string } }) =>
    request<void>('POST', '/api/push/subscriptions', { body }),
};

/** The URL of a stored image; the session cookie authorizes it. */
export function mediaUrl(id: string): string {
  return `/api/media/${enc(id)}`;
}
