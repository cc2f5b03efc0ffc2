import { channelRoutingSchema, type ChannelRouting } from '@kefu/shared';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../context';
import { AppError } from '../../errors';
import { route } from '../../http/route';
import { recordAudit, type AuditActor } from '../audit/audit-service';
import { routingOf } from '../channels/channel-store';

const idParams = z.object({ id: z.string().min(1) });

async function liveRow(ctx: AppContext, workspaceId: string, id: string) {
  const row = await ctx.db
    .selectFrom('channels')
    .selectAll()
    .where('id', '=', id)
    .where('workspaceId', '=', workspaceId)
    .where('deletedAt', 'is', null)
    .executeTakeFirst();
  if (!row) throw new AppError('CHANNEL_NOT_FOUND');
  return row;
}

/** Replaces a channel's routing rules; every node's channel cache drops the old ones. */
export async function putRouting(
  ctx: AppContext,
  workspaceId: string,
  id: string,
  body: ChannelRouting,
  actor: AuditActor,
): Promise<ChannelRouting> {
  await liveRow(ctx, workspaceId, id);
  await ctx.db
    .updateTable('channels')
    .set({
      handbackPolicy: body.handbackPolicy,
      businessHours: body.businessHours ? JSON.stringify(body.businessHours) : null,
      entryPatterns: JSON.stringify(body.entryPatterns),
    })
    .where('id', '=', id)
    .where('workspaceId', '=', workspaceId)
    .execute();
  ctx.channels.invalidate(id);
  await recordAudit(ctx, null, {
    workspaceId,
    actor,
    action: 'channel.routing',
    target: { type: 'channel', id },
    details: {
      handbackPolicy: body.handbackPolicy,
      businessHours: body.businessHours !== null,
      entryPatterns: body.entryPatterns.length,
    },
  });
  return routingOf(await liveRow(ctx, workspaceId, id));
}

/**
 * A mini program's routing rules (接待规则): when customers go to WeChat's own tool, the business
 * hours that may decide it, and how entry SessionFrom values read.
 */
export function registerRoutingRoutes(app: FastifyInstance, ctx: AppContext): void {
  route(app, ctx, {
    method: 'GET',
    url: '/api/channels/:id/routing',
    summary: 'A mini program’s hand-back policy, business hours and entry patterns',
    tags: ['admin'],
    access: 'admin',
    params: idParams,
    response: channelRoutingSchema,
    handler: async ({ caller, params }) =>
      routingOf(await liveRow(ctx, caller.workspaceId, params.id)),
  });
  route(app, ctx, {
    method: 'PUT',
    url: '/api/channels/:id/routing',
    summary: 'Replace a mini program’s hand-back policy, business hours and entry patterns',
    tags: ['admin'],
    access: 'admin',
    params: idParams,
    body: channelRoutingSchema,
    response: channelRoutingSchema,
    handler: ({ caller, params, body }) =>
      putRouting(ctx, caller.workspaceId, params.id, body, caller),
  });
}
