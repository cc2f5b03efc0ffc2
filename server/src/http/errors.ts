import type { ErrorBody } from '@kefu/shared';
import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError } from '../errors';
import type { PushGate } from './push-gate';
import { redactUrl } from './log-redact';

/**
 * One error handler: AppError → its status and `{ code, message }`; anything else → 500, logged.
 * A refused push (overload) is expected under load: the gate counts it into one summary line.
 */
export function registerErrorHandler(app: FastifyInstance, gate: PushGate): void {
  app.setErrorHandler((err: FastifyError | AppError | Error, req, reply) => {
    if (err instanceof AppError) {
      const body: ErrorBody = {
        code: err.code,
        message: err.message,
        ...(err.details ? { details: err.details } : {}),
      };
      if (err.code === 'PUSH_OVERLOADED') gate.count(Number(err.details?.expectedWaitMs ?? 0));
      else if (err.status >= 500) req.log.error({ err }, 'request failed');
      // Both mean "soon, not now": WeChat retries anyway, an API client may wait a second.
      if (err.code === 'PUSH_OVERLOADED' || err.code === 'DB_BUSY')
        void reply.header('retry-after', '1');
      else if (err.code.startsWith('WECHAT_'))
        req.log.warn({ code: err.code, url: redactUrl(req.url) }, 'push refused');
      return reply.code(err.status).send(body);
    }
    const fe = err as FastifyError;
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return reply
        .code(413)
        .send({ code: 'BODY_TOO_LARGE', message: 'The request body is over the size limit' });
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return reply.code(415).send({ code: 'MEDIA_UNSUPPORTED', message: err.message });
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.code(fe.statusCode).send({ code: 'VALIDATION_FAILED', message: err.message });
    }
    req.log.error({ err, url: redactUrl(req.url) }, 'unhandled error');
    return reply.code(500).send({ code: 'INTERNAL', message: 'Internal error' });
  });
}
