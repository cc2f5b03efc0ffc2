/**
 * The Open Platform side of the emulator as actions: a component's config, the ticket push,
 * "the shop admin scans and agrees", withdrawing and changing an authorization. Each push to
 * the component's 授权事件接收URL is XML, encrypted with the component's key and sealed for its
 * AppID, signed with its Token, and delivered with WeChat's retry rules.
 */
import { encryptMessage, randomNonce, sha1Signature } from './crypto';
import {
  componentConfigSchema,
  type ComponentConfig,
  type ComponentState,
} from './component-state';
import { deliverPush } from './push-deliver';
import { toXml, type PushMessage } from './push-build';
import type { SimState } from './state';
import type { PushRequest, PushResult } from './types';

export interface ComponentContext {
  state: SimState;
  comp: ComponentState;
  pushTimeoutMs: number;
}

/** Signs and seals one component push for its event URL. */
export function buildComponentPush(
  ctx: ComponentContext,
  cfg: ComponentConfig,
  fields: PushMessage,
): PushRequest {
  const timestamp = String(Math.floor(ctx.state.now() / 1000));
  const nonce = randomNonce();
  const inner = toXml({
    AppId: cfg.componentAppId,
    CreateTime: Number(timestamp),
    ...fields,
  });
  const encrypt = encryptMessage(cfg.encodingAesKey, cfg.componentAppId, inner);
  const query = {
    signature: sha1Signature(cfg.token, timestamp, nonce),
    timestamp,
    nonce,
    encrypt_type: 'aes',
    msg_signature: sha1Signature(cfg.token, timestamp, nonce, encrypt),
  };
  const base = cfg.eventUrl ?? '';
  const sep = base.includes('?') ? '&' : '?';
  return {
    url: `${base}${sep}${new URLSearchParams(query).toString()}`,
    query,
    body: toXml({ ToUserName: cfg.componentAppId, Encrypt: encrypt }),
    contentType: 'text/xml',
  };
}

async function push(ctx: ComponentContext, cfg: ComponentConfig, fields: PushMessage) {
  if (!cfg.eventUrl) {
    return { status: 0, body: '', attempts: 0, acknowledged: false, error: 'no eventUrl' };
  }
  return deliverPush(buildComponentPush(ctx, cfg, fields), ctx.pushTimeoutMs, () => {
    ctx.state.stats.push += 1;
  });
}

/** Adds or replaces a component's config. */
export function configureComponent(ctx: ComponentContext, input: unknown): ComponentConfig {
  const cfg = componentConfigSchema.parse(input);
  ctx.comp.configs.set(cfg.componentAppId, cfg);
  return cfg;
}

/** Issues a new component_verify_ticket and pushes it (WeChat does so every 10 minutes). */
export async function pushTicket(
  ctx: ComponentContext,
  componentAppId: string,
): Promise<PushResult & { ticket: string }> {
  const cfg = ctx.comp.requireConfig(componentAppId);
  const ticket = ctx.comp.newTicket(componentAppId, ctx.state.now());
  const result = await push(ctx, cfg, {
    InfoType: 'component_verify_ticket',
    ComponentVerifyTicket: ticket,
  });
  return { ...result, ticket };
}

export interface AuthorizeInput {
  preAuthCode: string;
  authorizerAppId: string;
  /** Permission-set ids granted; default: the customer-message set and a few others. */
  funcInfo?: number[];
}

/**
 * The shop admin scanned the authorization page and agreed: the pre_auth_code is used up, an
 * authorization code issued, the app's customer pushes go to the component's message URL
 * (signed and sealed with the component's Token, key and AppID), and `authorized` is pushed.
 */
export async function authorize(
  ctx: ComponentContext,
  componentAppId: string,
  input: AuthorizeInput,
): Promise<{ authCode: string; expiresIn: number; push: PushResult }> {
  const { state, comp } = ctx;
  const cfg = comp.requireConfig(componentAppId);
  const now = state.now();
  const pre = comp.preAuthCodes.get(input.preAuthCode);
  if (!pre || pre.componentAppId !== componentAppId) throw new Error('pre_auth_code is invalid');
  if (now >= pre.expiresAt) throw new Error('pre_auth_code has expired');
  comp.preAuthCodes.delete(input.preAuthCode);
  const app = state.requireApp(input.authorizerAppId);
  const key = comp.key(componentAppId, app.appId);
  const saved = comp.authorizations.get(key)?.saved ?? {
    token: app.token,
    encodingAesKey: app.encodingAesKey,
    mode: app.mode,
    format: app.format,
    pushUrl: app.pushUrl,
  };
  comp.authorizations.set(key, {
    componentAppId,
    authorizerAppId: app.appId,
    refreshToken: comp.newRefreshToken(),
    funcInfo: input.funcInfo ?? [1, 15, 18],
    saved,
  });
  state.apps.set(app.appId, {
    ...app,
    token: cfg.token,
    encodingAesKey: cfg.encodingAesKey,
    mode: 'safe',
    format: 'xml',
    pushUrl: cfg.messageUrl?.replace('$APPID$', app.appId),
    encryptAppId: componentAppId,
  });
  const authCode = comp.newAuthCode(componentAppId, app.appId, now);
  const expiresIn = 600;
  const result = await push(ctx, cfg, {
    InfoType: 'authorized',
    AuthorizerAppid: app.appId,
    AuthorizationCode: authCode,
    AuthorizationCodeExpiredTime: Math.floor(now / 1000) + expiresIn,
    PreAuthCode: input.preAuthCode,
  });
  return { authCode, expiresIn, push: result };
}

/** The app withdraws its authorization: tokens die, pushes go back to the app's own URL. */
export async function unauthorize(
  ctx: ComponentContext,
  componentAppId: string,
  authorizerAppId: string,
): Promise<PushResult> {
  const { state, comp } = ctx;
  const cfg = comp.requireConfig(componentAppId);
  const key = comp.key(componentAppId, authorizerAppId);
  const auth = comp.authorizations.get(key);
  if (!auth) throw new Error(`${authorizerAppId} has not authorized ${componentAppId}`);
  comp.authorizations.delete(key);
  expireAuthorizerTokens(ctx, authorizerAppId, componentAppId);
  const app = state.requireApp(authorizerAppId);
  state.apps.set(authorizerAppId, { ...app, ...auth.saved, encryptAppId: undefined });
  return push(ctx, cfg, { InfoType: 'unauthorized', AuthorizerAppid: authorizerAppId });
}

/** The app changed the permissions it grants: a new code, pushed as `updateauthorized`. */
export async function updateAuthorized(
  ctx: ComponentContext,
  componentAppId: string,
  authorizerAppId: string,
  funcInfo: number[],
): Promise<PushResult> {
  const { state, comp } = ctx;
  const cfg = comp.requireConfig(componentAppId);
  const auth = comp.authorizations.get(comp.key(componentAppId, authorizerAppId));
  if (!auth) throw new Error(`${authorizerAppId} has not authorized ${componentAppId}`);
  auth.funcInfo = funcInfo;
  const now = state.now();
  const authCode = comp.newAuthCode(componentAppId, authorizerAppId, now);
  return push(ctx, cfg, {
    InfoType: 'updateauthorized',
    AuthorizerAppid: authorizerAppId,
    AuthorizationCode: authCode,
    AuthorizationCodeExpiredTime: Math.floor(now / 1000) + 600,
  });
}

/** Every authorizer token of the app (of one component, or all) answers 40001 from now on. */
export function expireAuthorizerTokens(
  ctx: ComponentContext,
  appId: string,
  componentAppId?: string,
): void {
  const dead = [...ctx.comp.authorizerTokens.entries()]
    .filter(
      ([, v]) => v.appId === appId && (!componentAppId || v.componentAppId === componentAppId),
    )
    .map(([t]) => t);
  ctx.state.tokens.revoke(dead);
}
