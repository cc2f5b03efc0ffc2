import { conversationSchema } from '@kefu/shared';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../context';
import { route } from '../../http/route';
import { handBackConversation, takeBackConversation } from './handback';

const idParams = z.object({ id: z.string().min(1) });

/** 移交微信客服 and 收回 (see handback.ts). */
export function registerHandbackRoutes(app: FastifyInstance, ctx: AppContext): void {
  route(app, ctx, {
    method: 'POST',
    url: '/api/conversations/:id/handback',
    summary:
      'Hand the customer to WeChat’s own tool (移交微信客服): their next message is answered with transfer_customer_service',
    tags: ['conversations'],
    access: 'agent',
    params: idParams,
    response: conversationSchema,
    handler: ({ caller, params }) => handBackConversation(ctx, caller, params.id),
  });
  route(app, ctx, {
    method: 'POST',
    url: '/api/conversations/:id/takeback',
    summary: 'Take a handed-back conversation back into the queue (收回)',
    tags: ['conversations'],
    access: 'agent',
    params: idParams,
    response: conversationSchema,
    handler: ({ caller, params }) => takeBackConversation(ctx, caller, params.id),
  });
}
