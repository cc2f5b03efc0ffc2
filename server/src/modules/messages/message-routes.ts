import { customerSchema, messageSchema, pageQuery, sendMessageBody } from '@kefu/shared';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../context';
import { AppError } from '../../errors';
import { route } from '../../http/route';
import { assertCanSee, listConversations } from '../conversations/conversation-queries';
import { customerView, messageView } from '../conversations/views';
import { getMedia, storeImage } from './media-service';
import { retryMessage, sendReply } from './reply-service';
import { sendTyping } from './typing-service';
import { searchMessages } from './search';

const idParams = z.object({ id: z.string().min(1) });
const searchQuery = pageQuery.extend({ q: z.string().trim().min(1).max(100) });
const MEDIA_BODY_LIMIT = 3 * 1024 * 1024;

const INLINE_TYPES: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/gif': 'gif',
};

/**
 * Headers for a stored image: the type it was checked to be, never sniffed again by the browser
 * (nosniff), shown inline under a name made of its id, and inert even if opened as a document (a
 * sandbox CSP with nothing allowed). A type that is not one of ours goes out as an attachment.
 */
function mediaHeaders(id: string, mime: string): Record<string, string> {
  const ext = INLINE_TYPES[mime];
  const name = id.replace(/[^A-Za-z0-9-]/g, '');
  return {
    'content-type': ext ? mime : 'application/octet-stream',
    'x-content-type-options': 'nosniff',
    'content-disposition': ext ? `inline; filename="${name}.${ext}"` : 'attachment',
    'content-security-policy': "default-src 'none'; sandbox",
  };
}

export function registerMessageRoutes(app: FastifyInstance, ctx: AppContext): void {
  route(app, ctx, {
    method: 'GET',
    url: '/api/conversations/:id/messages',
    summary: 'Messages of a conversation, ascending; page back with before=<seq>',
    tags: ['messages'],
    access: 'agent',
    params: idParams,
    query: pageQuery,
    handler: async ({ caller, params, query }) => {
      const conv = await ctx.db
        .selectFrom('conversations')
        .select(['id', 'channelId'])
        .where('id', '=', params.id)
        .where('workspaceId', '=', caller.workspaceId)
        .executeTakeFirst();
      if (!conv) throw new AppError('CONV_NOT_FOUND');
      await assertCanSee(ctx, caller, conv.channelId, 'CONV_NOT_FOUND');
      let q = ctx.db.selectFrom('messages').selectAll().where('conversationId', '=', conv.id);
      if (query.before !== undefined) q = q.where('seq', '<', query.before);
      const rows = await q.orderBy('seq', 'desc').limit(query.limit).execute();
      return { items: rows.reverse().map(messageView) };
    },
  });
  route(app, ctx, {
    method: 'POST',
    url: '/api/conversations/:id/messages',
    summary:
      'Reply (text, image, card, link); answered at once with delivery pending; the same clientId twice sends once',
    tags: ['messages'],
    access: 'agent',
    params: idParams,
    body: sendMessageBody,
    response: messageSchema,
    handler: async ({ caller, params, body, reply }) => {
      void reply.code(201);
      return sendReply(ctx, caller, params.id, body);
    },
  });
  route(app, ctx, {
    method: 'GET',
    url: '/api/messages/search',
    summary:
      'Search text messages across all conversations you can see, newest first; page back with before=<createdAt>',
    tags: ['messages'],
    access: 'agent',
    query: searchQuery,
    handler: async ({ caller, query }) => ({
      items: await searchMessages(ctx, caller, query.q, query.limit, query.before),
    }),
  });
  route(app, ctx, {
    method: 'POST',
    url: '/api/messages/:id/retry',
    summary: 'Send a failed message again',
    tags: ['messages'],
    access: 'agent',
    params: idParams,
    response: messageSchema,
    handler: ({ caller, params }) => retryMessage(ctx, caller, params.id),
  });
  route(app, ctx, {
    method: 'POST',
    url: '/api/conversations/:id/typing',
    summary: 'Show “typing” to the customer (within the platform’s 30 s / 15 s rules)',
    tags: ['messages'],
    access: 'agent',
    params: idParams,
    handler: ({ caller, params }) => sendTyping(ctx, caller, params.id),
  });
  route(app, ctx, {
    method: 'POST',
    url: '/api/media',
    summary:
      'Upload an image (raw body, image/png|jpeg|gif, at most 2 MB); returns its id for an image reply',
    tags: ['messages'],
    access: 'agent',
    bodyLimit: MEDIA_BODY_LIMIT,
    handler: async ({ caller, req, reply }) => {
      if (!Buffer.isBuffer(req.body)) throw new AppError('MEDIA_UNSUPPORTED');
      void reply.code(201);
      return storeImage(ctx.db, ctx.now(), caller.workspaceId, req.body, {
        uploadedBy: caller.agentId,
      });
    },
  });
  route(app, ctx, {
    method: 'GET',
    url: '/api/media/:id',
    summary: 'An image (sent or received), re-hosted by Kefu',
    tags: ['messages'],
    access: 'agent',
    params: idParams,
    handler: async ({ caller, params, reply }) => {
      const media = await getMedia(ctx, caller, params.id);
      return reply
        .headers(mediaHeaders(media.id, media.mime))
        .header('cache-control', 'private, max-age=31536000, immutable')
        .send(media.data);
    },
  });
  route(app, ctx, {
    method: 'GET',
    url: '/api/customers/:id',
    summary: 'A customer and their conversations',
    tags: ['customers'],
    access: 'agent',
    params: idParams,
    response: z.object({ customer: customerSchema }),
    handler: async ({ caller, params }) => {
      const row = await ctx.db
        .selectFrom('customers')
        .selectAll()
        .where('id', '=', params.id)
        .where('workspaceId', '=', caller.workspaceId)
        .executeTakeFirst();
      if (!row) throw new AppError('NOT_FOUND', 'No such customer');
      await assertCanSee(ctx, caller, row.channelId, 'NOT_FOUND');
      return {
        customer: customerView(row, ctx.now()),
        conversations: await listConversations(ctx, caller, { customerId: row.id, limit: 100 }),
      };
    },
  });
  route(app, ctx, {
    method: 'GET',
    url: '/api/customers/:id/messages',
    summary:
      'A customer’s history across conversations, newest page first; page back with before=<createdAt>',
    tags: ['customers'],
    access: 'agent',
    params: idParams,
    query: pageQuery,
    handler: async ({ caller, params, query }) => {
      // Another workspace's customer is unknown here (404), not a customer without messages.
      const customer = await ctx.db
        .selectFrom('customers')
        .select(['id', 'channelId'])
        .where('id', '=', params.id)
        .where('workspaceId', '=', caller.workspaceId)
        .executeTakeFirst();
      if (!customer) throw new AppError('NOT_FOUND', 'No such customer');
      await assertCanSee(ctx, caller, customer.channelId, 'NOT_FOUND');
      let q = ctx.db
        .selectFrom('messages')
        .selectAll()
        .where('customerId', '=', params.id)
        .where('workspaceId', '=', caller.workspaceId);
      if (query.before !== undefined) q = q.where('createdAt', '<', query.before);
      const rows = await q
        .orderBy('createdAt', 'desc')
        .orderBy('seq', 'desc')
        .limit(query.limit)
        .execute();
      return { items: rows.reverse().map(messageView) };
    },
  });
}
