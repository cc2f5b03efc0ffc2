import type { Role } from '@kefu/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z, ZodType } from 'zod';
import type { AppContext } from '../context';
import { AppError } from '../errors';
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
  app.route({
    method: def.method,
    url: def.url,
    ...(def.bodyLimit ? { bodyLimit: def.bodyLimit } : {}),
    handler: async (req, reply) => {
      let caller: Caller | null = null;
      if (def.access !== 'public') {
        caller = await authenticate(ctx, req);
        if (RANK[caller.role] < NEED[def.access]) throw new AppError('AUTH_FORBIDDEN');
      }
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
