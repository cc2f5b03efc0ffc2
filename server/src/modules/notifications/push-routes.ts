import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../context';
import { route } from '../../http/route';
import { newId } from '../../lib/ids';
import { vapidKeys } from './web-push';

const subscriptionBody = z.object({
  endpoint: z.string().url().max(2000),
  keys: z.object({ p256dh: z.string().min(1).max(200), auth: z.string().min(1).max(100) }),
});

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
      await ctx.db.deleteFrom('pushSubscriptions').where('endpoint', '=', body.endpoint).execute();
      await ctx.db
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
