import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../../../context';
import { AppError } from '../../../errors';
import { arrivalOf, trackArrivals } from '../../../http/arrival';
import type { IngestWriter } from '../../conversations/ingest-writer';
import type { ChannelRecord } from '../types';
import { decideHandback } from '../../conversations/handback';
import { parsePush } from './inbound';
import { transferReply } from './passive-reply';

/**
 * WeChat's message push endpoint, `/wechat/:channelId` (the URL shown to paste into WeChat's
 * console). GET answers the URL check; POST verifies, decrypts, parses and commits the message,
 * and only then answers `success` (or the hand-back to WeChat's own tool, see handback.ts).
 * Bad signatures get 401 and change nothing.
 */
export function registerWechatPush(
  app: FastifyInstance,
  ctx: AppContext,
  ingest: IngestWriter,
): void {
  trackArrivals(app.server);
  void app.register(async (scope) => {
    // Signatures cover the exact bytes, so the body must reach us untouched, whatever its type.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'string', bodyLimit: ctx.config.pushBodyLimit },
      (_req, body, done) => done(null, body),
    );

    const handle = async (
      method: 'GET' | 'POST',
      channelId: string,
      query: Record<string, string | undefined>,
      rawBody: string,
      signal?: AbortSignal,
      arrivedAt?: number,
    ) => {
      // Overloaded: refuse before spending any CPU on it; WeChat sends it again.
      const expected = ingest.expectedWaitMs(arrivedAt);
      if (method === 'POST' && expected > ctx.config.pushMaxWaitMs)
        throw new AppError('PUSH_OVERLOADED', undefined, { expectedWaitMs: Math.round(expected) });
      // Unknown channel → 404; a database or key failure stays a 500 (logged), never a false 404.
      const channel = await ctx.channels.get(channelId);
      return answerWechatPush(ctx, ingest, channel, { method, query, rawBody, signal, arrivedAt });
    };

    scope.get<{ Params: { channelId: string }; Querystring: Record<string, string> }>(
      '/wechat/:channelId',
      async (req, reply) => {
        const body = await handle('GET', req.params.channelId, req.query, '');
        return reply.type('text/plain').send(body);
      },
    );
    // One push is not worth two info lines (at a thousand a second they would drown the log):
    // its failures are logged as warnings, refusals under load as a periodic summary.
    scope.post<{ Params: { channelId: string }; Querystring: Record<string, string> }>(
      '/wechat/:channelId',
      { logLevel: 'warn' },
      async (req, reply) => {
        const raw = typeof req.body === 'string' ? req.body : '';
        if (!raw) throw new AppError('WECHAT_BAD_PAYLOAD', 'Empty push body');
        // A client that hangs up (WeChat at 5 s) takes its push out of the queue uncommitted.
        // WeChat closes the connection when it gives up; by the time a late request is read,
        // its FIN may already be in (the socket's readable side ended).
        const gone = new AbortController();
        const socket = req.raw.socket;
        const hangUp = () => {
          if (!reply.raw.writableFinished) gone.abort();
        };
        if (socket.destroyed || socket.readableEnded) gone.abort();
        socket.once('end', hangUp);
        reply.raw.once('close', () => {
          socket.off('end', hangUp);
          hangUp();
        });
        const arrivedAt = arrivalOf(req.raw);
        const body = await handle(
          'POST',
          req.params.channelId,
          req.query,
          raw,
          gone.signal,
          arrivedAt,
        );
        return reply.type('text/plain').send(body);
      },
    );
  });
}

/** One push as it arrived, for `answerWechatPush`. */
export interface PushRequest {
  method: 'GET' | 'POST';
  query: Record<string, string | undefined>;
  rawBody: string;
  signal?: AbortSignal | undefined;
  arrivedAt?: number | undefined;
}

/**
 * Verifies, parses and commits one push addressed to `channel`, and returns the body to answer
 * with (the echo for a URL check, `success`, or a transfer_customer_service packet). `verifier` overrides whose token, AES key and
 * AppID check the push: a third-party platform's pushes are signed and encrypted with the
 * platform's own, not the mini program's.
 */
export async function answerWechatPush(
  ctx: AppContext,
  ingest: IngestWriter,
  channel: ChannelRecord,
  req: PushRequest,
  verifier?: { appId: string; token: string; encodingAesKey: string | null },
): Promise<string> {
  const result = parsePush({
    method: req.method,
    query: req.query,
    rawBody: req.rawBody,
    channel: {
      appId: verifier?.appId ?? channel.appId,
      originalId: channel.originalId,
      token: verifier?.token ?? channel.secrets.token,
      encodingAesKey: verifier ? verifier.encodingAesKey : channel.secrets.encodingAesKey,
      mode: channel.mode,
      format: channel.format,
    },
    ...(ctx.config.pushMaxAgeSeconds > 0
      ? {
          freshness: {
            nowSeconds: Math.floor(ctx.now() / 1000),
            maxAgeSeconds: ctx.config.pushMaxAgeSeconds,
          },
        }
      : {}),
  });
  if (result.kind === 'verify') return result.echostr;
  const ingested = await ingest.submit(channel, result.message, {
    signal: req.signal,
    arrivedAt: req.arrivedAt,
  });
  ctx.log.debug(
    { channelId: channel.id, type: result.message.type, duplicate: ingested.duplicate },
    'push committed',
  );
  if (!(await decideHandback(ctx, channel, result.message, ingested))) return 'success';
  return transferReply(channel, result.message, {
    nowSeconds: Math.floor(ctx.now() / 1000),
    nonce: req.query['nonce'] || randomBytes(8).toString('hex'),
    verifier,
  });
}
