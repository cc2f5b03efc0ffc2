import { conversationSchema, listConversationsQuery, transferBody } from '@kefu/shared';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../context';
import { route } from '../../http/route';
import {
  acceptConversation,
  closeConversation,
  transferConversation,
} from './conversation-service';
import { assertCanSee, listConversations } from './conversation-queries';
import { loadConversation } from './views';

const idParams = z.object({ id: z.string().min(1) });

export function registerConversationRoutes(app: FastifyInstance, ctx: AppContext): void {
  route(app, ctx, {
    method: 'GET',
    url: '/api/conversations',
    summary: 'Conversations: the queue (oldest first), mine, idle, closed',
    tags: ['conversations'],
    access: 'agent',
    query: listConversationsQuery,
    handler: async ({ caller, query }) => ({ items: await listConversations(ctx, caller, query) }),
  });
  route(app, ctx, {
    method: 'GET',
    url: '/api/conversations/:id',
    summary: 'One conversation',
    tags: ['conversations'],
    access: 'agent',
    params: idParams,
    response: conversationSchema,
    handler: async ({ caller, params }) => {
      const conversation = await loadConversation(ctx.db, caller.workspaceId, params.id, ctx.now());
      await assertCanSee(ctx, caller, conversation.channelId, 'CONV_NOT_FOUND');
      return conversation;
    },
  });
  route(app, ctx, {
    method: 'POST',
    url: '/api/conversations/:id/accept',
    summary:
      'Accept a waiting conversation, or re-accept your idle one (重新接入); 409 CONV_ALREADY_TAKEN names the winner',
    tags: ['conversations'],
    access: 'agent',
    params: idParams,
    response: conversationSchema,
    handler: ({ caller, params }) => acceptConversation(ctx, caller, params.id),
  });
  route(app, ctx, {
    method: 'POST',
    url: '/api/conversations/:id/close',
    summary: 'End a conversation',
    tags: ['conversations'],
    access: 'agent',
    params: idParams,
    response: conversationSchema,
    handler: ({ caller, params }) => closeConversation(ctx, caller, params.id),
  });
  route(app, ctx, {
    method: 'POST',
    url: '/api/conversations/:id/transfer',
    summary: 'Hand a conversation to an online colleague bound to the channel',
    tags: ['conversations'],
    access: 'agent',
    params: idParams,
    body: transferBody,
    response: conversationSchema,
    handler: ({ caller, params, body }) =>
      transferConversation(ctx, caller, params.id, body.agentId, body.note),
  });
}
