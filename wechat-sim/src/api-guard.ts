import type { FastifyReply, FastifyRequest } from 'fastify';
import { wxError } from './errcodes';
import type { SimState } from './state';
import type { FaultApi } from './types';

/** The raw request body (every content type is kept as a Buffer, see sim.ts). */
export function bodyBuffer(req: FastifyRequest): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/** The body as a JSON object, or undefined when it is not one (→ 47001). */
export function jsonObject(req: FastifyRequest): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(bodyBuffer(req).toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export function queryOf(req: FastifyRequest): Record<string, string | undefined> {
  return (req.query ?? {}) as Record<string, string | undefined>;
}

/** Answers like WeChat: HTTP 200 with `{errcode, errmsg}`. */
export function sendWx(reply: FastifyReply, errcode: number, errmsg?: string): FastifyReply {
  return reply.code(200).send(wxError(errcode, errmsg));
}

/** Answers with an injected fault if one is armed for the API; true when it did. */
export function answerFault(
  state: SimState,
  api: FaultApi,
  req: FastifyRequest,
  reply: FastifyReply,
): boolean {
  const fault = state.faults.take(api);
  if (!fault) return false;
  if (fault.dropConnection) {
    reply.hijack();
    req.raw.socket.destroy();
    return true;
  }
  void reply.code(fault.httpStatus ?? 200).send(wxError(fault.errcode, fault.errmsg));
  return true;
}

/** The app behind `?access_token=`, or undefined after answering 41001/40001/40014/42001. */
export function requireToken(
  state: SimState,
  req: FastifyRequest,
  reply: FastifyReply,
): string | undefined {
  const token = queryOf(req).access_token;
  if (!token) {
    void sendWx(reply, 41001);
    return undefined;
  }
  const check = state.tokens.check(token, state.now());
  if (!check.ok) {
    void sendWx(reply, check.errcode);
    return undefined;
  }
  return check.appId;
}

/** Counts the call, answers an armed fault, then checks the token. */
export function guardApi(
  state: SimState,
  api: Exclude<FaultApi, 'token'>,
  req: FastifyRequest,
  reply: FastifyReply,
): string | undefined {
  state.stats[api] += 1;
  if (answerFault(state, api, req, reply)) return undefined;
  return requireToken(state, req, reply);
}
