import {
  auditPageSchema,
  auditQuery,
  usageRulesAckBody,
  usageRulesStateSchema,
} from '@kefu/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../context';
import { route } from '../../http/route';
import type { Caller } from '../agents/auth';
import { listAudit, type AuditActor } from './audit-service';
import { ackUsageRules, usageRulesState } from './usage-rules';

/** The audit actor of a request: the signed-in agent and the address it came from. */
export function actorOf(caller: Caller, req: FastifyRequest): AuditActor & { agentId: string } {
  return { agentId: caller.agentId, ip: req.ip };
}

/**
 * The audit log (owner and admin: it records channel secrets changes and role changes, which a
 * supervisor does not manage) and the usage rules every agent acknowledges.
 */
export function registerAuditRoutes(app: FastifyInstance, ctx: AppContext): void {
  route(app, ctx, {
    method: 'GET',
    url: '/api/admin/audit',
    summary: 'The audit log, newest first: filter by actor, action, time range and target text',
    tags: ['admin'],
    access: 'admin',
    query: auditQuery,
    response: auditPageSchema,
    handler: ({ caller, query }) => listAudit(ctx, caller.workspaceId, query),
  });
  route(app, ctx, {
    method: 'GET',
    url: '/api/me/usage-rules',
    summary: 'The usage rules version and whether I acknowledged it',
    tags: ['agents'],
    access: 'agent',
    response: usageRulesStateSchema,
    handler: ({ caller }) => usageRulesState(ctx, caller.workspaceId, caller.agentId),
  });
  route(app, ctx, {
    method: 'POST',
    url: '/api/me/usage-rules/ack',
    summary: 'Acknowledge the current usage rules (运营规范); recorded in the audit log',
    tags: ['agents'],
    access: 'agent',
    body: usageRulesAckBody,
    response: usageRulesStateSchema,
    handler: ({ caller, req, body }) =>
      ackUsageRules(ctx, caller.workspaceId, actorOf(caller, req), body.version),
  });
}
