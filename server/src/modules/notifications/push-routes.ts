import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../context';
import { AppError } from '../../errors';
import { route } from '../../http/route';
import { newId } from '../../lib/ids';
import { assertPublicUrl, OutboundRefused } from '../../lib/outbound';
import { vapidKeys } from './web-push';

const subscriptionBody = z.object({
  endpoint: z.string().url().max(2000),
  keys: z.object({ p256dh: z.string().min(1).max(200), auth: z.string().min(1).max(100) }),
});

/** 400 unless Kefu may POST to the endpoint (https on a public address, or an allowed origin). */
async function checkEndpoint(ctx: AppContext, endpoint: string): Promise<void> {
  try {
    await assertPublicUrl(endpoint, ctx.config.allowedOutboundBases);
  } catch (err) {
    if (!(err instanceof OutboundRefused)) throw err;
    throw new AppError('PUSH_ENDPOINT_REFUSED', `The push endpoint is refused: ${err.message}`, {
      field: 'endpoint',
    });
  }
}

/** Web Push: the VAPID key and this agent's browser subscriptions. */
export function registerPushRoutes(app: FastifyInstance, ctx: AppContext): void {
  route(app, ctx, {
    method: 'GET',
    url: '/api/push/vapid-public-key',
    summary: 'The VAPID public key for PushManager.subscribe',
    tags: ['notifications'],
    access: 'agent',
    handler: async () => ({ key: (await vapidKeys(ctx)).publicKey }),
  });
  route(app, ctx, {
    method: 'POST',
    url: '/api/push/subscriptions',
    summary: 'Register this browser for reminders while the console is closed',
    tags: ['notifications'],
    access: 'agent',
    body: subscriptionBody,
    handler: async ({ caller, body, reply }) => {
      await checkEndpoint(ctx, body.endpoint);
      // Rows are per (agent, endpoint): registering an endpoint replaces only the caller's own
      // row. Another agent's row for the same endpoint (a browser shared between shifts, or an
      // endpoint someone copied) stays theirs: no stealing, and no answer that tells it exists.
      await ctx.transact(async ({ tx }) => {
        await tx
          .deleteFrom('pushSubscriptions')
          .where('endpoint', '=', body.endpoint)
          .where('agentId', '=', caller.agentId)
          .execute();
        await tx
          .insertInto('pushSubscriptions')
          .values({
            id: newId(),
            workspaceId: caller.workspaceId,
            agentId: caller.agentId,
            endpoint: body.endpoint,
            keys: JSON.stringify(body.keys),
            createdAt: ctx.now(),
          })
          .execute();
      });
      void reply.code(201);
      return { ok: true };
    },
  });
  route(app, ctx, {
    method: 'DELETE',
    url: '/api/push/subscriptions',
    summary: 'Stop reminders to this browser',
    tags: ['notifications'],
    access: 'agent',
    body: z.object({ endpoint: z.string() }),
    handler: async ({ caller, body }) => {
      await ctx.db
        .deleteFrom('pushSubscriptions')
        .where('endpoint', '=', body.endpoint)
        .where('agentId', '=', caller.agentId)
        .execute();
      return undefined;
    },
  });
}
