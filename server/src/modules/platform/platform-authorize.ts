/**
 * Binding an authorizer (a mini program that authorized the platform) to a channel, and the
 * changes WeChat announces afterwards: updateauthorized re-queries, unauthorized stops sending.
 */
import { LIMITS } from '@kefu/shared';
import type { AppContext } from '../../context';
import { AppError } from '../../errors';
import { newId } from '../../lib/ids';
import { loadChannel } from '../channels/channel-store';
import type { AuthorizationInfo } from './component-client';
import { useGrant } from './auth-state';
import { wechatFailed } from './platform-service';
import { loadPlatform, type PlatformRecord } from './platform-store';
import type { PlatformTokens } from './platform-tokens';

/**
 * The redirect_uri callback: checks the state (single use), asks WeChat what the auth_code
 * stands for (api_query_auth: the code is never trusted by itself), and binds the authorizer
 * as a channel of the state's workspace. Returns the channel id.
 */
export async function completeAuthorization(
  ctx: AppContext,
  tokens: PlatformTokens,
  platformId: string,
  state: string,
  authCode: string,
): Promise<string> {
  const { workspaceId } = await useGrant(ctx, platformId, state);
  const p = await loadPlatform(ctx, platformId);
  const client = tokens.client(p);
  const info = await tokens
    .withComponentToken(p, (t) => client.queryAuth(t, authCode))
    .catch(wechatFailed);
  const about = await tokens
    .withComponentToken(p, (t) => client.authorizerInfo(t, info.authorizerAppId))
    .catch(wechatFailed);
  const channelId = await bind(ctx, p, workspaceId, info, about);
  const channel = await loadChannel(ctx, channelId);
  await tokens.seed(channel, info.accessToken, info.expiresIn);
  ctx.channels.invalidate(channelId);
  ctx.log.info({ channelId, workspaceId, appId: info.authorizerAppId }, 'mini program authorized');
  return channelId;
}

async function bind(
  ctx: AppContext,
  p: PlatformRecord,
  workspaceId: string,
  info: AuthorizationInfo,
  about: { nickName: string; userName: string },
): Promise<string> {
  return ctx.transact(async ({ tx }) => {
    const now = ctx.now();
    const existing = await tx
      .selectFrom('platformAuthorizers')
      .innerJoin('channels', 'channels.id', 'platformAuthorizers.channelId')
      .select([
        'platformAuthorizers.channelId',
        'platformAuthorizers.workspaceId',
        'channels.platformState',
        'channels.deletedAt',
      ])
      .where('platformAuthorizers.platformId', '=', p.id)
      .where('platformAuthorizers.authorizerAppId', '=', info.authorizerAppId)
      .executeTakeFirst();
    const sealed = ctx.secrets.seal(info.refreshToken);
    const funcInfo = JSON.stringify(info.funcInfo);
    if (existing && existing.deletedAt === null) {
      if (existing.workspaceId === workspaceId) {
        await tx
          .updateTable('platformAuthorizers')
          .set({ refreshEnc: sealed, funcInfo, updatedAt: now })
          .where('channelId', '=', existing.channelId)
          .execute();
        await tx
          .updateTable('channels')
          .set({ platformState: 'authorized', originalId: about.userName })
          .where('id', '=', existing.channelId)
          .execute();
        return existing.channelId;
      }
      // Still live in another workspace: a second link must not move a shop out of its desk.
      if (existing.platformState === 'authorized') throw new AppError('PLATFORM_APP_BOUND');
    }
    // Withdrawn elsewhere or deleted: the old channel keeps its history, the binding moves.
    if (existing) {
      await tx
        .deleteFrom('platformAuthorizers')
        .where('channelId', '=', existing.channelId)
        .execute();
    }
    const channelId = newId();
    await tx
      .insertInto('channels')
      .values({
        id: channelId,
        workspaceId,
        kind: 'wechat_mp',
        name: about.nickName.slice(0, 100),
        appId: info.authorizerAppId,
        originalId: about.userName,
        // No AppSecret, Token or key of its own: the platform's sign and seal its pushes.
        secretsEnc: ctx.secrets.seal({ appSecret: '', token: '', encodingAesKey: null }),
        mode: 'safe',
        format: 'xml',
        tokenEndpoint: 'stable',
        apiBase: p.apiBase === ctx.config.wechatApiBase ? null : p.apiBase,
        idleMinutes: LIMITS.defaultIdleMinutes,
        createdAt: now,
        deletedAt: null,
        platformId: p.id,
        platformState: 'authorized',
      })
      .execute();
    await tx
      .insertInto('platformAuthorizers')
      .values({
        channelId,
        platformId: p.id,
        workspaceId,
        authorizerAppId: info.authorizerAppId,
        refreshEnc: sealed,
        funcInfo,
        updatedAt: now,
      })
      .execute();
    return channelId;
  });
}

/** The live channel an authorizer AppID is bound to on this platform, if any. */
export async function boundChannelId(
  ctx: AppContext,
  platformId: string,
  authorizerAppId: string,
): Promise<string | null> {
  const row = await ctx.db
    .selectFrom('platformAuthorizers')
    .innerJoin('channels', 'channels.id', 'platformAuthorizers.channelId')
    .select('platformAuthorizers.channelId')
    .where('platformAuthorizers.platformId', '=', platformId)
    .where('platformAuthorizers.authorizerAppId', '=', authorizerAppId)
    .where('channels.deletedAt', 'is', null)
    .executeTakeFirst();
  return row?.channelId ?? null;
}

/**
 * `unauthorized`: the channel stops sending at once (its record says so; queued replies fail
 * with a reason), the refresh token is deleted and the cached token dropped on every node.
 */
export async function withdrawAuthorization(
  ctx: AppContext,
  tokens: PlatformTokens,
  platformId: string,
  authorizerAppId: string,
  /** True when the event predates the binding's last change (a replay): then it is ignored. */
  stale: (updatedAt: number) => boolean = () => false,
): Promise<void> {
  const channelId = await boundChannelId(ctx, platformId, authorizerAppId);
  if (!channelId) return;
  const row = await ctx.db
    .selectFrom('platformAuthorizers')
    .select('updatedAt')
    .where('channelId', '=', channelId)
    .executeTakeFirst();
  if (row && stale(row.updatedAt)) {
    ctx.log.warn({ channelId }, 'unauthorized event older than the authorization: ignored');
    return;
  }
  await ctx.db
    .updateTable('platformAuthorizers')
    .set({ refreshEnc: null, updatedAt: ctx.now() })
    .where('channelId', '=', channelId)
    .execute();
  await ctx.db
    .updateTable('channels')
    .set({ platformState: 'unauthorized' })
    .where('id', '=', channelId)
    .execute();
  await tokens.forget(await loadChannel(ctx, channelId));
  ctx.channels.invalidate(channelId);
  ctx.log.warn({ channelId, appId: authorizerAppId }, 'mini program withdrew its authorization');
}

/** `updateauthorized`: the permissions changed; query the new code and keep what it says. */
export async function refreshAuthorization(
  ctx: AppContext,
  tokens: PlatformTokens,
  p: PlatformRecord,
  authorizerAppId: string,
  authCode: string,
): Promise<void> {
  const channelId = await boundChannelId(ctx, p.id, authorizerAppId);
  if (!channelId) return;
  const info = await tokens.withComponentToken(p, (t) => tokens.client(p).queryAuth(t, authCode));
  if (info.authorizerAppId !== authorizerAppId) return;
  await ctx.db
    .updateTable('platformAuthorizers')
    .set({
      refreshEnc: ctx.secrets.seal(info.refreshToken),
      funcInfo: JSON.stringify(info.funcInfo),
      updatedAt: ctx.now(),
    })
    .where('channelId', '=', channelId)
    .execute();
  await ctx.db
    .updateTable('channels')
    .set({ platformState: 'authorized' })
    .where('id', '=', channelId)
    .execute();
  const channel = await loadChannel(ctx, channelId);
  await tokens.seed(channel, info.accessToken, info.expiresIn);
  ctx.channels.invalidate(channelId);
}
