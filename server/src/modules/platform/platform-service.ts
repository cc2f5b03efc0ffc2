import type { Platform, platformBody, updatePlatformBody } from '@kefu/shared';
import type { z } from 'zod';
import type { AppContext } from '../../context';
import { AppError } from '../../errors';
import { newId } from '../../lib/ids';
import { assertAllowedBase } from '../channels/registry';
import { WechatApiError } from '../channels/wechat/api-errors';
import type { PlatformTokens } from './platform-tokens';
import {
  loadOwnPlatform,
  loadUsablePlatform,
  toPlatform,
  type PlatformRecord,
} from './platform-store';
import { createGrant } from './auth-state';

function publicBase(ctx: AppContext): string {
  return (ctx.config.publicUrl ?? `http://localhost:${ctx.config.port}`).replace(/\/+$/, '');
}

/** The 授权事件接收URL of a platform. */
export function eventUrlOf(ctx: AppContext, id: string): string {
  return `${publicBase(ctx)}/wechat/component/${id}`;
}

/** The 消息与事件接收URL: WeChat replaces `$APPID$` with the authorizer's AppID. */
export function messageUrlOf(ctx: AppContext, id: string): string {
  return `${publicBase(ctx)}/wechat/component/${id}/$APPID$`;
}

/** A WeChat refusal during a console action, with WeChat's reason in the message. */
export function wechatFailed(err: unknown): never {
  if (err instanceof WechatApiError) {
    throw new AppError('PLATFORM_WECHAT_FAILED', err.reason, { errcode: err.errcode });
  }
  throw err;
}

async function view(ctx: AppContext, workspaceId: string, p: PlatformRecord): Promise<Platform> {
  const own = p.workspaceId === workspaceId;
  const counted = await ctx.db
    .selectFrom('channels')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('platformId', '=', p.id)
    .where('platformState', '=', 'authorized')
    .where('deletedAt', 'is', null)
    // Another workspace sees how many of its own mini programs came through it, nothing more.
    .$if(!own, (q) => q.where('workspaceId', '=', workspaceId))
    .executeTakeFirst();
  return {
    id: p.id,
    name: p.name,
    componentAppId: p.componentAppId,
    own,
    shared: p.shared,
    ...(own ? { token: p.secrets.token } : {}),
    eventUrl: eventUrlOf(ctx, p.id),
    messageUrl: messageUrlOf(ctx, p.id),
    authDomain: new URL(publicBase(ctx)).host,
    ticketAt: own ? p.ticketAt : null,
    authorizedCount: Number(counted?.n ?? 0),
  };
}

/** Platforms the workspace may use: the ones it holds and the ones shared on this install. */
export async function listPlatforms(ctx: AppContext, workspaceId: string): Promise<Platform[]> {
  const rows = await ctx.db
    .selectFrom('platforms')
    .selectAll()
    .where((eb) => eb.or([eb('workspaceId', '=', workspaceId), eb('shared', '=', 1)]))
    .orderBy('createdAt')
    .execute();
  return Promise.all(rows.map((r) => view(ctx, workspaceId, toPlatform(ctx, r))));
}

/** One usable platform. */
export async function getPlatform(ctx: AppContext, workspaceId: string, id: string) {
  return view(ctx, workspaceId, await loadUsablePlatform(ctx, workspaceId, id));
}

/** Configures a platform held by the caller's workspace; one row per component AppID. */
export async function createPlatform(
  ctx: AppContext,
  workspaceId: string,
  input: z.infer<typeof platformBody>,
): Promise<Platform> {
  if (input.apiBase) assertAllowedBase(ctx, input.apiBase);
  const taken = await ctx.db
    .selectFrom('platforms')
    .select('id')
    .where('componentAppId', '=', input.componentAppId)
    .executeTakeFirst();
  if (taken) throw new AppError('PLATFORM_EXISTS');
  const id = newId();
  await ctx.db
    .insertInto('platforms')
    .values({
      id,
      workspaceId,
      name: input.name,
      componentAppId: input.componentAppId,
      secretsEnc: ctx.secrets.seal({
        componentSecret: input.componentSecret,
        token: input.token,
        encodingAesKey: input.encodingAesKey,
      }),
      shared: input.shared ? 1 : 0,
      apiBase: input.apiBase ?? null,
      ticketEnc: null,
      ticketAt: null,
      createdAt: ctx.now(),
    })
    .execute()
    .catch(async (err: unknown) => {
      // Two owners racing for one component AppID: the unique index decides.
      const again = await ctx.db
        .selectFrom('platforms')
        .select('id')
        .where('componentAppId', '=', input.componentAppId)
        .executeTakeFirst();
      throw again ? new AppError('PLATFORM_EXISTS') : err;
    });
  return getPlatform(ctx, workspaceId, id);
}

/** Changes a platform the caller's workspace holds; the AppID of a component cannot change. */
export async function updatePlatform(
  ctx: AppContext,
  workspaceId: string,
  id: string,
  input: z.infer<typeof updatePlatformBody>,
): Promise<Platform> {
  const p = await loadOwnPlatform(ctx, workspaceId, id);
  if (input.componentAppId !== undefined && input.componentAppId !== p.componentAppId) {
    throw new AppError(
      'VALIDATION_FAILED',
      'body.componentAppId: cannot change; add a new platform',
      {
        field: 'componentAppId',
      },
    );
  }
  if (input.apiBase) assertAllowedBase(ctx, input.apiBase);
  const secrets = {
    componentSecret: input.componentSecret ?? p.secrets.componentSecret,
    token: input.token ?? p.secrets.token,
    encodingAesKey: input.encodingAesKey ?? p.secrets.encodingAesKey,
  };
  await ctx.db
    .updateTable('platforms')
    .set({
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.shared !== undefined ? { shared: input.shared ? 1 : 0 } : {}),
      ...(input.apiBase !== undefined ? { apiBase: input.apiBase } : {}),
      secretsEnc: ctx.secrets.seal(secrets),
    })
    .where('id', '=', id)
    .execute();
  return getPlatform(ctx, workspaceId, id);
}

/** How long an authorization link (and its state) is accepted; WeChat's pre_auth_code: 30 min. */
const LINK_TTL_MS = 30 * 60_000;

/**
 * An authorization link for the caller's workspace: a fresh pre_auth_code, and a redirect_uri
 * whose signed single-use state names this workspace (the only one the mini program can join).
 */
export async function createAuthLink(
  ctx: AppContext,
  tokens: PlatformTokens,
  caller: { workspaceId: string; agentId: string },
  platformId: string,
): Promise<{ url: string; expiresAt: number }> {
  const p = await loadUsablePlatform(ctx, caller.workspaceId, platformId);
  const pre = await tokens
    .withComponentToken(p, (t) => tokens.client(p).preAuthCode(t))
    .catch(wechatFailed);
  const expiresAt = ctx.now() + Math.min(LINK_TTL_MS, pre.expiresIn * 1000);
  const state = await createGrant(ctx, {
    platformId: p.id,
    workspaceId: caller.workspaceId,
    createdBy: caller.agentId,
    expiresAt,
  });
  const redirect = `${eventUrlOf(ctx, p.id)}/callback?state=${encodeURIComponent(state)}`;
  const q = new URLSearchParams({
    component_appid: p.componentAppId,
    pre_auth_code: pre.code,
    redirect_uri: redirect,
    // 2: mini programs only (1 would list official accounts).
    auth_type: '2',
  });
  const base = ctx.config.wechatAuthPageBase.replace(/\/+$/, '');
  return { url: `${base}/cgi-bin/componentloginpage?${q.toString()}`, expiresAt };
}
