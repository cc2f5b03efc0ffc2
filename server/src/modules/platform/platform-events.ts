/**
 * The 授权事件接收URL: WeChat's pushes to the component itself, every 10 minutes the
 * component_verify_ticket, and authorized / unauthorized / updateauthorized. They are always
 * encrypted with the platform's EncodingAESKey, signed with its Token, sealed for its AppID.
 */
import type { AppContext } from '../../context';
import { AppError } from '../../errors';
import { WechatApiError } from '../channels/wechat/api-errors';
import { decryptPayload, verifySignature } from '../channels/wechat/crypto';
import { parseXmlFields } from '../channels/wechat/payload-parse';
import { refreshAuthorization, withdrawAuthorization } from './platform-authorize';
import { loadPlatform } from './platform-store';
import type { PlatformTokens } from './platform-tokens';

/** Clock difference between WeChat's CreateTime and ours that is still taken as "now". */
const SKEW_MS = 60_000;

/** Verifies, decrypts and applies one component push; returns `success`. */
export async function answerComponentPush(
  ctx: AppContext,
  tokens: PlatformTokens,
  platformId: string,
  query: Record<string, string | undefined>,
  rawBody: string,
): Promise<string> {
  const p = await loadPlatform(ctx, platformId);
  const timestamp = query.timestamp ?? '';
  const nonce = query.nonce ?? '';
  // Nothing of the body is read before the Token's signature is checked.
  if (!verifySignature(query.signature, p.secrets.token, timestamp, nonce)) {
    throw new AppError('WECHAT_BAD_SIGNATURE');
  }
  const maxAge = ctx.config.pushMaxAgeSeconds;
  if (maxAge > 0 && Math.abs(Math.floor(ctx.now() / 1000) - Number(timestamp)) > maxAge) {
    throw new AppError('WECHAT_STALE_PUSH');
  }
  const encrypt = parseXmlFields(rawBody).Encrypt;
  if (!encrypt) throw new AppError('WECHAT_BAD_PAYLOAD', undefined, { reason: 'no Encrypt' });
  if (!verifySignature(query.msg_signature, p.secrets.token, timestamp, nonce, encrypt)) {
    throw new AppError('WECHAT_BAD_SIGNATURE');
  }
  const fields = parseXmlFields(
    decryptPayload(p.secrets.encodingAesKey, encrypt, p.componentAppId),
  );
  if (fields.AppId !== p.componentAppId) throw new AppError('WECHAT_APPID_MISMATCH');
  const authorizer = fields.AuthorizerAppid ?? '';
  // A signed push replayed later must not undo what happened since (an older ticket, or an
  // old `unauthorized` after the shop authorized again): older than our last change → ignored.
  const createdAt = Number(fields.CreateTime ?? 0) * 1000;
  const olderThan = (ms: number | null | undefined) => ms != null && createdAt + SKEW_MS < ms;
  switch (fields.InfoType) {
    case 'component_verify_ticket': {
      const ticket = fields.ComponentVerifyTicket;
      if (!ticket) throw new AppError('WECHAT_BAD_PAYLOAD', undefined, { reason: 'no ticket' });
      if (olderThan(p.ticketAt)) break;
      await ctx.db
        .updateTable('platforms')
        .set({ ticketEnc: ctx.secrets.seal(ticket), ticketAt: ctx.now() })
        .where('id', '=', p.id)
        .execute();
      break;
    }
    case 'unauthorized':
      await withdrawAuthorization(ctx, tokens, p.id, authorizer, (at) => olderThan(at));
      break;
    case 'updateauthorized':
      if (!fields.AuthorizationCode) break;
      // WeChat refusing the new code (expired, already used) leaves the old refresh token in
      // force; retrying the push would not change WeChat's answer, so it is acknowledged.
      await refreshAuthorization(ctx, tokens, p, authorizer, fields.AuthorizationCode).catch(
        (err: unknown) => {
          if (!(err instanceof WechatApiError) || err.transient) throw err;
          ctx.log.warn(
            { platformId: p.id, appId: authorizer, err },
            'updateauthorized not applied',
          );
        },
      );
      break;
    case 'authorized':
      // The callback binds (only its state names the workspace); the event only confirms.
      ctx.log.info({ platformId: p.id, appId: authorizer }, 'authorized event');
      break;
    default:
      ctx.log.info({ platformId: p.id, infoType: fields.InfoType }, 'component push ignored');
  }
  return 'success';
}
