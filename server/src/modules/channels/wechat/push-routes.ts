import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../../context';
import { AppError } from '../../../errors';
import { ingestInbound } from '../../conversations/inbound-service';
import { loadChannel } from '../channel-store';
import { parsePush } from './inbound';

/**
 * WeChat's message push endpoint, `/wechat/:channelId` (the URL shown to paste into WeChat's
 * console). GET answers the URL check; POST verifies, decrypts, parses and commits the message,
 * and only then answers `success`. Bad signatures get 401 and change nothing.
 */
export function registerWechatPush(app: FastifyInstance, ctx: AppContext): void {
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
    ) => {
      // Unknown channel → 404; a database or key failure stays a 500 (logged), never a false 404.
      const channel = await loadChannel(ctx, channelId);
      const result = parsePush({
        method,
        query,
        rawBody,
        channel: {
          appId: channel.appId,
          originalId: channel.originalId,
          token: channel.secrets.token,
          encodingAesKey: channel.secrets.encodingAesKey,
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
      const ingested = await ingestInbound(ctx, channel, result.message);
      ctx.log.debug(
        { channelId, type: result.message.type, duplicate: ingested.duplicate },
        'push committed',
      );
      return 'success';
    };

    scope.get<{ Params: { channelId: string }; Querystring: Record<string, string> }>(
      '/wechat/:channelId',
      async (req, reply) => {
        const body = await handle('GET', req.params.channelId, req.query, '');
        return reply.type('text/plain').send(body);
      },
    );
    scope.post<{ Params: { channelId: string }; Querystring: Record<string, string> }>(
      '/wechat/:channelId',
      async (req, reply) => {
        const raw = typeof req.body === 'string' ? req.body : '';
        if (!raw) throw new AppError('WECHAT_BAD_PAYLOAD', 'Empty push body');
        const body = await handle('POST', req.params.channelId, req.query, raw);
        return reply.type('text/plain').send(body);
      },
    );
  });
}
