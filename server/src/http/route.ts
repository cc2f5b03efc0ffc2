import type { Role } from '@kefu/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z, ZodType } from 'zod';
import type { AppContext } from '../context';
import { AppError } from '../errors';
import { fromOwnOrigin } from './origin';
import { authenticate, type Caller } from '../modules/agents/auth';

export type Access = 'public' | 'agent' | 'supervisor' | 'admin' | 'owner';

const RANK: Record<Role, number> = { agent: 0, supervisor: 1, admin: 2, owner: 3 };
const NEED: Record<Exclude<Access, 'public'>, number> = {
  agent: 0,
  supervisor: 1,
  admin: 2,
  owner: 3,
};

export interface RouteDef<B extends ZodType, Q extends ZodType, P extends ZodType> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  summary: string;
  tags: string[];
  access: Access;
  body?: B;
  query?: Q;
  params?: P;
  /** A zod schema of the success body, for the OpenAPI document only. */
  response?: ZodType;
  bodyLimit?: number;
  handler: (input: {
    ctx: AppContext;
    caller: Access extends 'public' ? Caller | null : Caller;
    body: z.infer<B>;
    query: z.infer<Q>;
    params: z.infer<P>;
    req: FastifyRequest;
    reply: FastifyReply;
  }) => Promise<unknown>;
}

/** Every route registered through `route`, for the OpenAPI document. */
export const routeRegistry: RouteDef<ZodType, ZodType, ZodType>[] = [];

function parse<T extends ZodType>(
  schema: T | undefined,
  value: unknown,
  where: string,
): z.infer<T> {
  if (!schema) return value as z.infer<T>;
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') || where;
  throw new AppError('VALIDATION_FAILED', `${where}.${field}: ${issue?.message ?? 'invalid'}`, {
    field,
    where,
  });
}

/** The header the console sends on every request; a cross-origin page cannot set it unasked. */
export const CLIENT_HEADER = 'x-kefu-client';

/**
 * A state change carried by the session cookie must come from the console itself: the browser
 * attaches the cookie to any form another site posts here. So the request must come from
 * Kefu's own origin and carry the console's header (which a cross-origin page can only send
 * after a CORS preflight that Kefu never grants). Bearer requests need neither: a browser never
 * adds an Authorization header on its own.
 */
function assertFromConsole(req: FastifyRequest, ctx: AppContext): void {
  if (req.method === 'GET' || req.method === 'HEAD') return;
  if (!fromOwnOrigin(req.headers, ctx.config) || req.headers[CLIENT_HEADER] !== 'console')
    throw new AppError('AUTH_CSRF');
}

/**
 * Registers a thin route: authenticate, check the role, validate once, call the handler.
 * The handler returns the body; `undefined` means 204.
 */
export function route<B extends ZodType, Q extends ZodType, P extends ZodType>(
  app: FastifyInstance,
  ctx: AppContext,
  def: RouteDef<B, Q, P>,
): void {
  routeRegistry.push(def);
  // Who calls is settled before the body is read: an anonymous or cross-site request is refused
  // without parsing (or buffering) its body, whatever content type it claims.
  const callers = new WeakMap<FastifyRequest, Caller>();
  app.route({
    method: def.method,
    url: def.url,
    ...(def.bodyLimit ? { bodyLimit: def.bodyLimit } : {}),
    onRequest: async (req) => {
      if (def.access === 'public') {
        // Login CSRF: another page must not sign a browser in to an account of its choosing.
        if (def.method !== 'GET' && !fromOwnOrigin(req.headers, ctx.config))
          throw new AppError('AUTH_CSRF');
        return;
      }
      const auth = await authenticate(ctx, req);
      if (auth.fromCookie) assertFromConsole(req, ctx);
      if (RANK[auth.caller.role] < NEED[def.access]) throw new AppError('AUTH_FORBIDDEN');
      callers.set(req, auth.caller);
    },
    handler: async (req, reply) => {
      const caller = callers.get(req) ?? null;
      const result = await def.handler({
        ctx,
        caller: caller as Caller,
        body: parse(def.body, req.body, 'body'),
        query: parse(def.query, req.query, 'query'),
        params: parse(def.params, req.params, 'params'),
        req,
        reply,
      });
      if (reply.sent) return reply;
      if (result === undefined) return reply.code(204).send();
      return reply.send(result);
    },
  });
}
