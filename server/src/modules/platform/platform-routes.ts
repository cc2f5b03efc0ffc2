import { platformBody, platformLinkSchema, platformSchema, updatePlatformBody } from '@kefu/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../context';
import { AppError } from '../../errors';
import { arrivalOf } from '../../http/arrival';
import { route } from '../../http/route';
import type { IngestWriter } from '../conversations/ingest-writer';
import { answerWechatPush } from '../channels/wechat/push-routes';
import { boundChannelId, completeAuthorization } from './platform-authorize';
import { answerComponentPush } from './platform-events';
import {
  createAuthLink,
  createPlatform,
  getPlatform,
  listPlatforms,
  updatePlatform,
} from './platform-service';
import { loadPlatform } from './platform-store';
import type { PlatformTokens } from './platform-tokens';

const idParams = z.object({ id: z.string().min(1) });
const callbackQuery = z.object({
  state: z.string().min(1).max(200),
  auth_code: z.string().min(1).max(512),
  expires_in: z.string().optional(),
});

/** The console's platform API, WeChat's two push URLs and the authorization callback. */
export function registerPlatformRoutes(
  app: FastifyInstance,
  ctx: AppContext,
  ingest: IngestWriter,
  tokens: PlatformTokens,
): void {
  route(app, ctx, {
    method: 'GET',
    url: '/api/platforms',
    summary: 'Third-party platforms this workspace holds or may use for authorization links',
    tags: ['admin'],
    access: 'admin',
    response: z.object({ items: z.array(platformSchema) }),
    handler: async ({ caller }) => ({ items: await listPlatforms(ctx, caller.workspaceId) }),
  });
  route(app, ctx, {
    method: 'POST',
    url: '/api/platforms',
    summary: 'Configure a third-party platform (component AppID, secret, Token, EncodingAESKey)',
    tags: ['admin'],
    access: 'owner',
    body: platformBody,
    response: platformSchema,
    handler: ({ caller, body, reply }) => {
      void reply.code(201);
      return createPlatform(ctx, caller.workspaceId, body);
    },
  });
  route(app, ctx, {
    method: 'GET',
    url: '/api/platforms/:id',
    summary: 'One third-party platform',
    tags: ['admin'],
    access: 'admin',
    params: idParams,
    response: platformSchema,
    handler: ({ caller, params }) => getPlatform(ctx, caller.workspaceId, params.id),
  });
  route(app, ctx, {
    method: 'PATCH',
    url: '/api/platforms/:id',
    summary: 'Change a third-party platform held by this workspace',
    tags: ['admin'],
    access: 'owner',
    params: idParams,
    body: updatePlatformBody,
    response: platformSchema,
    handler: ({ caller, params, body }) => updatePlatform(ctx, caller.workspaceId, params.id, body),
  });
  route(app, ctx, {
    method: 'POST',
    url: '/api/platforms/:id/link',
    summary: 'An authorization link that adds a mini program to this workspace (30 minutes, once)',
    tags: ['admin'],
    access: 'admin',
    params: idParams,
    response: platformLinkSchema,
    handler: ({ caller, params }) => createAuthLink(ctx, tokens, caller, params.id),
  });

  void app.register(async (scope) => {
    // Signatures cover the exact bytes: the body reaches the handlers untouched.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'string', bodyLimit: ctx.config.pushBodyLimit },
      (_req, body, done) => done(null, body),
    );
    type Req = {
      Params: { platformId: string; appId: string };
      Querystring: Record<string, string>;
    };
    const raw = (body: unknown) => {
      if (typeof body !== 'string' || body === '') throw new AppError('WECHAT_BAD_PAYLOAD');
      return body;
    };

    scope.post<Req>('/wechat/component/:platformId', { logLevel: 'warn' }, async (req, reply) => {
      const body = await answerComponentPush(
        ctx,
        tokens,
        req.params.platformId,
        req.query,
        raw(req.body),
      );
      return reply.type('text/plain').send(body);
    });

    // The shop admin's browser comes back here from WeChat's authorization page. A refusal is
    // a page a person can read (with the code), not a JSON body.
    scope.get<Req>('/wechat/component/:platformId/callback', async (req, reply) => {
      try {
        const q = callbackQuery.safeParse(req.query);
        if (!q.success) throw new AppError('PLATFORM_STATE_INVALID');
        const channelId = await completeAuthorization(
          ctx,
          tokens,
          req.params.platformId,
          q.data.state,
          q.data.auth_code,
        );
        return await reply.redirect(
          `/admin/channels?authorized=${encodeURIComponent(channelId)}`,
          303,
        );
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        ctx.log.warn(
          { code: err.code, platformId: req.params.platformId },
          'authorization refused',
        );
        return reply.code(err.status).type('text/html; charset=utf-8').send(refusalPage(err));
      }
    });

    // One URL for every authorized mini program: WeChat puts its AppID where `$APPID$` was.
    const message = async (method: 'GET' | 'POST', req: FastifyRequest<Req>) => {
      const { platformId, appId } = req.params;
      const p = await loadPlatform(ctx, platformId);
      const channelId = await boundChannelId(ctx, p.id, appId);
      if (!channelId) throw new AppError('CHANNEL_NOT_FOUND');
      const channel = await ctx.channels.get(channelId);
      // A withdrawn authorization receives nothing: WeChat stopped, anything else is not WeChat.
      if (channel.platform?.state !== 'authorized') throw new AppError('CHANNEL_NOT_FOUND');
      return answerWechatPush(
        ctx,
        ingest,
        channel,
        {
          method,
          query: req.query,
          rawBody: method === 'POST' ? raw(req.body) : '',
          arrivedAt: arrivalOf(req.raw),
        },
        {
          appId: p.componentAppId,
          token: p.secrets.token,
          encodingAesKey: p.secrets.encodingAesKey,
        },
      );
    };
    scope.get<Req>('/wechat/component/:platformId/:appId', async (req, reply) =>
      reply.type('text/plain').send(await message('GET', req)),
    );
    scope.post<Req>(
      '/wechat/component/:platformId/:appId',
      { logLevel: 'warn' },
      async (req, reply) => reply.type('text/plain').send(await message('POST', req)),
    );
  });
}

const REFUSALS: Partial<Record<string, string>> = {
  PLATFORM_STATE_INVALID: '授权链接无效、已过期或已使用。请在客服台重新生成授权链接后再扫码。',
  PLATFORM_APP_BOUND: '这个小程序已授权到客服台的另一个工作区，需先在微信里取消那次授权。',
  PLATFORM_WECHAT_FAILED: '微信拒绝了这次授权，请稍后重新生成授权链接再试。',
  PLATFORM_NOT_FOUND: '这个第三方平台不存在。',
  PLATFORM_NO_TICKET: '第三方平台尚未收到微信的 component_verify_ticket，请稍后再试。',
};

/** The page a refused authorization shows: Chinese first, then the English message and code. */
function refusalPage(err: AppError): string {
  const esc = (v: string) => v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const zh = REFUSALS[err.code] ?? '授权没有完成。';
  return (
    '<!doctype html><html lang="zh-CN"><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width,initial-scale=1"><title>授权未完成</title>' +
    '<body style="font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em">' +
    `<h1>授权未完成</h1><p>${esc(zh)}</p><p style="color:#666">${esc(err.message)} ` +
    `(<code>${esc(err.code)}</code>)</p></body></html>`
  );
}
