import {
  agentSchema,
  createAgentBody,
  loginBody,
  mySettingsBody,
  resetPasswordBody,
  statusBody,
  updateAgentBody,
} from '@kefu/shared';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../context';
import { route } from '../../http/route';
import { listChannels } from '../admin/channel-service';
import { listQuickReplies } from '../admin/settings-service';
import { revokeSockets } from '../realtime/revoke';
import { SESSION_COOKIE, login, revokeSession } from './auth';
import { recordAudit } from '../audit/audit-service';
import { actorOf } from '../audit/audit-routes';
import {
  createAgent,
  loadAgent,
  loadAgents,
  resetPassword,
  setStatus,
  updateAgent,
  updateMySettings,
} from './agent-service';

const idParams = z.object({ id: z.string().min(1) });

export function registerAgentRoutes(app: FastifyInstance, ctx: AppContext): void {
  route(app, ctx, {
    method: 'POST',
    url: '/api/auth/login',
    summary: 'Sign in; returns a session token (also set as an HttpOnly cookie)',
    tags: ['auth'],
    access: 'public',
    body: loginBody,
    handler: async ({ body, req, reply }) => {
      const session = await login(ctx, { ...body, ip: req.ip });
      const agent = await ctx.db
        .selectFrom('agents')
        .select('workspaceId')
        .where('id', '=', session.agentId)
        .executeTakeFirstOrThrow();
      const maxAge = Math.floor((session.expiresAt - ctx.now()) / 1000);
      // Secure whenever the console is reached over HTTPS (req.protocol honours
      // X-Forwarded-Proto only with KEFU_TRUST_PROXY), so the cookie never travels in clear.
      const secure = req.protocol === 'https' ? '; Secure' : '';
      void reply.header(
        'set-cookie',
        `${SESSION_COOKIE}=${session.token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${secure}`,
      );
      return {
        token: session.token,
        agent: await loadAgent(ctx.db, agent.workspaceId, session.agentId),
      };
    },
  });

  route(app, ctx, {
    method: 'POST',
    url: '/api/auth/logout',
    summary: 'Sign out: the agent goes offline and their active conversations become idle',
    tags: ['auth'],
    access: 'agent',
    handler: async ({ caller, reply, req }) => {
      await revokeSession(ctx, caller.sessionId);
      const { workspaceId, agentId, sessionId } = caller;
      revokeSockets(ctx, { workspaceId, agentId, sessionId, reason: 'signed_out' });
      await setStatus(ctx, caller.workspaceId, caller.agentId, 'offline', 'logout');
      await recordAudit(ctx, null, {
        workspaceId,
        actor: actorOf(caller, req),
        action: 'auth.sign_out',
        target: { type: 'agent', id: agentId },
      });
      void reply.header(
        'set-cookie',
        `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`,
      );
      return undefined;
    },
  });

  route(app, ctx, {
    method: 'GET',
    url: '/api/me',
    summary: 'The signed-in agent, their bound channels and the quick replies',
    tags: ['agents'],
    access: 'agent',
    handler: async ({ caller }) => {
      const agent = await loadAgent(ctx.db, caller.workspaceId, caller.agentId);
      const admin = caller.role === 'owner' || caller.role === 'admin';
      const ws = await ctx.db
        .selectFrom('workspaces')
        .select(['id', 'name'])
        .where('id', '=', caller.workspaceId)
        .executeTakeFirstOrThrow();
      return {
        agent,
        workspace: ws,
        channels: await listChannels(ctx, caller.workspaceId, {
          withSecrets: admin,
          onlyIds: admin ? undefined : agent.channels.map((c) => c.channelId),
        }),
        quickReplies: await listQuickReplies(ctx, caller.workspaceId),
      };
    },
  });

  route(app, ctx, {
    method: 'PUT',
    url: '/api/me/status',
    summary: 'Set my status: online, away (no new assignments or reminders) or offline',
    tags: ['agents'],
    access: 'agent',
    body: statusBody,
    response: agentSchema,
    handler: ({ caller, body, req }) =>
      setStatus(
        ctx,
        caller.workspaceId,
        caller.agentId,
        body.status,
        'offline',
        actorOf(caller, req),
      ),
  });

  route(app, ctx, {
    method: 'PUT',
    url: '/api/me/settings',
    summary: 'My desk settings: auto-accept, capacity, notifications, served channels',
    tags: ['agents'],
    access: 'agent',
    body: mySettingsBody,
    response: agentSchema,
    handler: async ({ caller, body, req }) => {
      const agent = await updateMySettings(ctx, caller.workspaceId, caller.agentId, body);
      await recordAudit(ctx, null, {
        workspaceId: caller.workspaceId,
        actor: actorOf(caller, req),
        action: 'agent.my_settings',
        target: { type: 'agent', id: caller.agentId },
        details: { ...body },
      });
      return agent;
    },
  });

  route(app, ctx, {
    method: 'GET',
    url: '/api/agents',
    summary: 'Agents of the workspace (for transfer and admin)',
    tags: ['agents'],
    access: 'agent',
    handler: async ({ caller }) => ({ items: await loadAgents(ctx.db, caller.workspaceId) }),
  });

  route(app, ctx, {
    method: 'POST',
    url: '/api/agents',
    summary: 'Create an agent and bind them to channels',
    tags: ['admin'],
    access: 'admin',
    body: createAgentBody,
    response: agentSchema,
    handler: ({ caller, body, reply, req }) => {
      void reply.code(201);
      return createAgent(ctx, caller.workspaceId, body, actorOf(caller, req));
    },
  });

  route(app, ctx, {
    method: 'PATCH',
    url: '/api/agents/:id',
    summary: 'Rename, change role or capacity, disable',
    tags: ['admin'],
    access: 'admin',
    params: idParams,
    body: updateAgentBody,
    response: agentSchema,
    handler: ({ caller, params, body, req }) =>
      updateAgent(ctx, caller.workspaceId, params.id, body, { ...caller, ip: req.ip }),
  });

  route(app, ctx, {
    method: 'POST',
    url: '/api/agents/:id/password',
    summary: 'Reset an agent’s password (signs them out everywhere)',
    tags: ['admin'],
    access: 'admin',
    params: idParams,
    body: resetPasswordBody,
    handler: async ({ caller, params, body, req }) => {
      await resetPassword(ctx, caller.workspaceId, params.id, body.password, {
        ...caller,
        ip: req.ip,
      });
      return undefined;
    },
  });
}
