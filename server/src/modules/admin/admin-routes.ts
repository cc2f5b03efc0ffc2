import {
  agentSchema,
  bindAgentsBody,
  channelSchema,
  createChannelBody,
  type Channel,
  quickReplyBody,
  updateChannelBody,
  workspaceSettingsBody,
} from '@kefu/shared';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../context';
import { route } from '../../http/route';
import { loadAgents } from '../agents/agent-service';
import { recordAudit } from '../audit/audit-service';
import { actorOf } from '../audit/audit-routes';
import {
  createChannel,
  deleteChannel,
  getChannel,
  listChannels,
  setChannelAgents,
  testChannel,
  updateChannel,
} from './channel-service';
import {
  createQuickReply,
  deleteQuickReply,
  getSettings,
  listQuickReplies,
  putSettings,
} from './settings-service';

const idParams = z.object({ id: z.string().min(1) });

export function registerAdminRoutes(app: FastifyInstance, ctx: AppContext): void {
  route(app, ctx, {
    method: 'GET',
    url: '/api/channels',
    summary: 'Mini programs of the workspace, with the push URL and Token to paste into WeChat',
    tags: ['admin'],
    access: 'admin',
    handler: async ({ caller }) => ({
      items: await listChannels(ctx, caller.workspaceId, { withSecrets: true }),
    }),
  });
  route(app, ctx, {
    method: 'POST',
    url: '/api/channels',
    summary: 'Add a mini program (AppID, AppSecret, Token, EncodingAESKey, mode, format)',
    tags: ['admin'],
    access: 'admin',
    body: createChannelBody,
    response: channelSchema,
    handler: async ({ caller, body, reply, req }) => {
      void reply.code(201);
      const channel = await createChannel(ctx, caller.workspaceId, body);
      await recordAudit(ctx, null, {
        workspaceId: caller.workspaceId,
        actor: actorOf(caller, req),
        action: 'channel.create',
        target: { type: 'channel', id: channel.id },
        details: { name: channel.name, appId: channel.appId, mode: channel.mode },
      });
      return channel;
    },
  });
  route(app, ctx, {
    method: 'GET',
    url: '/api/channels/:id',
    summary: 'One mini program',
    tags: ['admin'],
    access: 'admin',
    params: idParams,
    response: channelSchema,
    handler: ({ caller, params }) => getChannel(ctx, caller.workspaceId, params.id),
  });
  route(app, ctx, {
    method: 'PATCH',
    url: '/api/channels/:id',
    summary: 'Change a mini program’s settings or secrets',
    tags: ['admin'],
    access: 'admin',
    params: idParams,
    body: updateChannelBody,
    response: channelSchema,
    handler: async ({ caller, params, body, req }) => {
      const before = await getChannel(ctx, caller.workspaceId, params.id);
      const channel = await updateChannel(ctx, caller.workspaceId, params.id, body);
      await recordAudit(ctx, null, {
        workspaceId: caller.workspaceId,
        actor: actorOf(caller, req),
        action: 'channel.update',
        target: { type: 'channel', id: channel.id },
        details: { name: channel.name, fields: changedFields(before, channel, body) },
      });
      return channel;
    },
  });
  route(app, ctx, {
    method: 'DELETE',
    url: '/api/channels/:id',
    summary: 'Remove a mini program (history stays)',
    tags: ['admin'],
    access: 'admin',
    params: idParams,
    handler: async ({ caller, params, req }) => {
      await deleteChannel(ctx, caller.workspaceId, params.id);
      await recordAudit(ctx, null, {
        workspaceId: caller.workspaceId,
        actor: actorOf(caller, req),
        action: 'channel.delete',
        target: { type: 'channel', id: params.id },
      });
    },
  });
  route(app, ctx, {
    method: 'POST',
    url: '/api/channels/:id/test',
    summary: 'Check the AppID/AppSecret against the token endpoint',
    tags: ['admin'],
    access: 'admin',
    params: idParams,
    handler: ({ caller, params }) => testChannel(ctx, caller.workspaceId, params.id),
  });
  route(app, ctx, {
    method: 'PUT',
    url: '/api/channels/:id/agents',
    summary: 'Set which agents are bound to a mini program (at most 100)',
    tags: ['admin'],
    access: 'admin',
    params: idParams,
    body: bindAgentsBody,
    response: z.object({ items: z.array(agentSchema) }),
    handler: async ({ caller, params, body, req }) => {
      const bound = await setChannelAgents(
        ctx,
        caller.workspaceId,
        params.id,
        body.agentIds,
        actorOf(caller, req),
      );
      return { items: await loadAgents(ctx.db, caller.workspaceId, bound) };
    },
  });
  route(app, ctx, {
    method: 'GET',
    url: '/api/quick-replies',
    summary: 'Quick replies of the workspace',
    tags: ['admin'],
    access: 'agent',
    handler: async ({ caller }) => ({ items: await listQuickReplies(ctx, caller.workspaceId) }),
  });
  route(app, ctx, {
    method: 'POST',
    url: '/api/quick-replies',
    summary: 'Add a quick reply (inserted with / in the composer)',
    tags: ['admin'],
    access: 'admin',
    body: quickReplyBody,
    handler: async ({ caller, body, reply, req }) => {
      void reply.code(201);
      const created = await createQuickReply(ctx, caller.workspaceId, body);
      await recordAudit(ctx, null, {
        workspaceId: caller.workspaceId,
        actor: actorOf(caller, req),
        action: 'quick_reply.create',
        target: { type: 'quick_reply', id: created.id },
        details: { shortcut: created.shortcut },
      });
      return created;
    },
  });
  route(app, ctx, {
    method: 'DELETE',
    url: '/api/quick-replies/:id',
    summary: 'Remove a quick reply',
    tags: ['admin'],
    access: 'admin',
    params: idParams,
    handler: async ({ caller, params, req }) => {
      await deleteQuickReply(ctx, caller.workspaceId, params.id);
      await recordAudit(ctx, null, {
        workspaceId: caller.workspaceId,
        actor: actorOf(caller, req),
        action: 'quick_reply.delete',
        target: { type: 'quick_reply', id: params.id },
      });
    },
  });
  route(app, ctx, {
    method: 'GET',
    url: '/api/settings',
    summary: 'Workspace settings (sensitive words)',
    tags: ['admin'],
    access: 'admin',
    handler: ({ caller }) => getSettings(ctx, caller.workspaceId),
  });
  route(app, ctx, {
    method: 'PUT',
    url: '/api/settings',
    summary: 'Replace the sensitive-word list',
    tags: ['admin'],
    access: 'admin',
    body: workspaceSettingsBody,
    handler: async ({ caller, body, req }) => {
      const settings = await putSettings(ctx, caller.workspaceId, body);
      await recordAudit(ctx, null, {
        workspaceId: caller.workspaceId,
        actor: actorOf(caller, req),
        action: 'workspace.settings',
        target: { type: 'workspace', id: caller.workspaceId },
        details: { sensitiveWords: settings.sensitiveWords.length },
      });
      return settings;
    },
  });
}

/**
 * Which of a channel's settings an update changed, never their values (the secrets must not
 * land in the log). Sealed secrets cannot be compared: given means changed.
 */
function changedFields(before: Channel, after: Channel, body: object): string[] {
  const shown = (Object.keys(after) as (keyof Channel)[]).filter(
    (k) => k !== 'agentCount' && JSON.stringify(before[k]) !== JSON.stringify(after[k]),
  );
  const sealed = ['appSecret', 'encodingAesKey'].filter((k) => k in body);
  return [...shown, ...sealed].sort();
}
