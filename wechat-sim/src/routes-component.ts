import type { FastifyInstance, FastifyReply } from 'fastify';
import { jsonObject, queryOf, sendWx } from './api-guard';
import type { ComponentContext } from './component-actions';
import { authorize } from './component-actions';
import { COMPONENT_TOKEN_TTL_MS, PRE_AUTH_TTL_MS } from './component-state';

const s = (v: unknown) => (typeof v === 'string' ? v : '');

/**
 * The Open Platform's component API (/cgi-bin/component/*), the authorization page
 * (componentloginpage) and, for every custom/send, the third-party permission rules: an app
 * that granted its customer messages to a platform sends only with the authorizer token.
 */
export function registerComponentRoutes(app: FastifyInstance, ctx: ComponentContext): void {
  const { state, comp } = ctx;

  /** The component behind ?component_access_token=, or undefined after answering the errcode. */
  const component = (
    req: Parameters<typeof queryOf>[0],
    reply: FastifyReply,
    body: Record<string, unknown>,
  ) => {
    const who = comp.checkComponentToken(queryOf(req).component_access_token, state.now());
    if (typeof who === 'number') {
      void sendWx(reply, who);
      return undefined;
    }
    if (s(body.component_appid) !== who) {
      void sendWx(reply, 40013);
      return undefined;
    }
    return who;
  };

  // Every component API call is counted first, whatever its outcome.
  app.addHook('onRequest', async (req) => {
    const api = /^\/cgi-bin\/component\/(\w+)/.exec(req.url)?.[1];
    if (api) comp.calls[api] = (comp.calls[api] ?? 0) + 1;
  });

  app.post('/cgi-bin/component/api_component_token', async (req, reply) => {
    const body = jsonObject(req);
    if (!body) return sendWx(reply, 47001);
    const cfg = comp.configs.get(s(body.component_appid));
    if (!cfg) return sendWx(reply, 40013);
    if (s(body.component_appsecret) !== cfg.componentSecret)
      return sendWx(reply, 40125, 'invalid appsecret');
    const now = state.now();
    const bad = comp.checkTicket(cfg.componentAppId, s(body.component_verify_ticket), now);
    if (bad)
      return sendWx(
        reply,
        bad,
        bad === 61005 ? 'component ticket is expired' : 'component ticket is invalid',
      );
    const rec = comp.issueComponentToken(cfg.componentAppId, now);
    return reply.send({
      component_access_token: rec.value,
      expires_in: COMPONENT_TOKEN_TTL_MS / 1000,
    });
  });

  app.post('/cgi-bin/component/api_create_preauthcode', async (req, reply) => {
    const body = jsonObject(req);
    if (!body) return sendWx(reply, 47001);
    const who = component(req, reply, body);
    if (!who) return reply;
    const rec = comp.newPreAuthCode(who, state.now());
    return reply.send({ pre_auth_code: rec.value, expires_in: PRE_AUTH_TTL_MS / 1000 });
  });

  app.post('/cgi-bin/component/api_query_auth', async (req, reply) => {
    const body = jsonObject(req);
    if (!body) return sendWx(reply, 47001);
    const who = component(req, reply, body);
    if (!who) return reply;
    const now = state.now();
    const code = comp.authCodes.get(s(body.authorization_code));
    if (!code || code.componentAppId !== who || code.used)
      return sendWx(reply, 61009, 'code is invalid');
    if (now >= code.expiresAt) return sendWx(reply, 61010, 'code is expired');
    const auth = comp.authorizations.get(comp.key(who, code.authorizerAppId));
    if (!auth) return sendWx(reply, 61009, 'code is invalid');
    code.used = true;
    const token = state.tokens.issueAuthorizer(auth.authorizerAppId, now);
    comp.authorizerTokens.set(token.token, { componentAppId: who, appId: auth.authorizerAppId });
    return reply.send({
      authorization_info: {
        authorizer_appid: auth.authorizerAppId,
        authorizer_access_token: token.token,
        expires_in: COMPONENT_TOKEN_TTL_MS / 1000,
        authorizer_refresh_token: auth.refreshToken,
        func_info: auth.funcInfo.map((id) => ({ funcscope_category: { id } })),
      },
    });
  });

  app.post('/cgi-bin/component/api_authorizer_token', async (req, reply) => {
    const body = jsonObject(req);
    if (!body) return sendWx(reply, 47001);
    const who = component(req, reply, body);
    if (!who) return reply;
    const auth = comp.authorizations.get(comp.key(who, s(body.authorizer_appid)));
    if (!auth || auth.refreshToken !== s(body.authorizer_refresh_token)) {
      return sendWx(reply, 61023, 'refresh_token is invalid');
    }
    const token = state.tokens.issueAuthorizer(auth.authorizerAppId, state.now());
    comp.authorizerTokens.set(token.token, { componentAppId: who, appId: auth.authorizerAppId });
    return reply.send({
      authorizer_access_token: token.token,
      expires_in: COMPONENT_TOKEN_TTL_MS / 1000,
      authorizer_refresh_token: auth.refreshToken,
    });
  });

  app.post('/cgi-bin/component/api_get_authorizer_info', async (req, reply) => {
    const body = jsonObject(req);
    if (!body) return sendWx(reply, 47001);
    const who = component(req, reply, body);
    if (!who) return reply;
    const auth = comp.authorizations.get(comp.key(who, s(body.authorizer_appid)));
    const appCfg = auth ? state.apps.get(auth.authorizerAppId) : undefined;
    if (!auth || !appCfg)
      return sendWx(reply, 61003, 'component is not authorized by this account');
    return reply.send({
      authorizer_info: {
        nick_name: comp.nickNames.get(appCfg.appId) ?? `小程序 ${appCfg.appId.slice(-4)}`,
        user_name: appCfg.originalId,
        MiniProgramInfo: {},
      },
      authorization_info: {
        authorizer_appid: appCfg.appId,
        func_info: auth.funcInfo.map((id) => ({ funcscope_category: { id } })),
      },
    });
  });

  // What the shop admin sees after opening the authorization link: pick a mini program, agree.
  app.get('/cgi-bin/componentloginpage', async (req, reply) => {
    const q = queryOf(req);
    const apps = [...state.apps.values()]
      .map((a) => `<option value="${esc(a.appId)}">${esc(a.appId)}</option>`)
      .join('');
    const hidden = ['component_appid', 'pre_auth_code', 'redirect_uri']
      .map((k) => `<input type="hidden" name="${k}" value="${esc(q[k] ?? '')}">`)
      .join('');
    return reply
      .type('text/html; charset=utf-8')
      .send(
        `<!doctype html><meta charset="utf-8"><title>授权</title><h1>授权给第三方平台</h1>` +
          `<form method="post" action="/cgi-bin/componentloginpage/confirm">${hidden}` +
          `<select name="authorizer_appid">${apps}</select> <button type="submit">同意授权</button></form>`,
      );
  });
  app.post('/cgi-bin/componentloginpage/confirm', async (req, reply) => {
    const form = new URLSearchParams(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
    const componentAppId = form.get('component_appid') ?? '';
    const redirect = form.get('redirect_uri') ?? '';
    try {
      const done = await authorize(ctx, componentAppId, {
        preAuthCode: form.get('pre_auth_code') ?? '',
        authorizerAppId: form.get('authorizer_appid') ?? '',
      });
      const sep = redirect.includes('?') ? '&' : '?';
      const q = new URLSearchParams({
        auth_code: done.authCode,
        expires_in: String(done.expiresIn),
      });
      return reply.redirect(`${redirect}${sep}${q.toString()}`, 302);
    } catch (err) {
      return reply.code(400).type('text/plain; charset=utf-8').send(String(err));
    }
  });

  // Customer messages belong to the platform once granted: the app's own token is refused.
  app.addHook('preHandler', async (req, reply) => {
    if (!req.url.startsWith('/cgi-bin/message/custom/send')) return;
    const token = queryOf(req).access_token ?? '';
    if (comp.authorizerTokens.has(token)) return;
    const check = state.tokens.check(token, state.now());
    if (!check.ok) return;
    const granted = [...comp.authorizations.values()].some(
      (a) => a.authorizerAppId === check.appId,
    );
    if (granted) {
      return sendWx(
        reply,
        48001,
        'api unauthorized: the permission is held by a third-party platform',
      );
    }
  });
  app.addHook('onSend', async (req, _reply, payload) => {
    if (!req.url.startsWith('/cgi-bin/message/custom/send') || typeof payload !== 'string')
      return payload;
    const token = queryOf(req).access_token ?? '';
    const who = comp.authorizerTokens.get(token);
    if (who && payload.includes('"errcode":0,')) {
      comp.authorizerSends.push({ ...who, token, at: state.now() });
    }
    return payload;
  });
}

function esc(v: string): string {
  return v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
