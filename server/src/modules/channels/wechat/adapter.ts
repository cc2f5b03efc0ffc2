import type { AppContext } from '../../../context';
import { AppError } from '../../../errors';
import { allowedBasesOf, assertAllowedBase } from '../registry';
import {
  PlatformError,
  type ChannelAdapter,
  type ChannelRecord,
  type MediaRef,
  type OutgoingPayload,
} from '../types';
import type { OutboundPayload } from './outbound-payload';
import { WechatApiClient, WechatApiError, type TokenSource } from './api-client';
import type { TokenStore } from './token-store';

/** A temp media_id lives 3 days; reuse it until an hour before that. */
const MEDIA_TTL_MS = 3 * 24 * 3600_000;
const MEDIA_MARGIN_MS = 3600_000;

function toPlatformError(err: unknown): PlatformError {
  if (err instanceof WechatApiError) {
    const effect = err.errcode === 45015 ? 'closed' : err.errcode === 45047 ? 'exhausted' : null;
    return new PlatformError(err.errcode, err.reason, err.transient, effect);
  }
  if (err instanceof PlatformError) return err;
  // The channel's base is no longer allowed (configuration changed): retrying cannot help.
  if (err instanceof AppError) return new PlatformError(0, err.message, false);
  return new PlatformError(-2, `Network error: ${(err as Error).message}`, true);
}

function uncertainSend(err: WechatApiError): PlatformError {
  return new PlatformError(
    err.errcode,
    `No answer from WeChat after the reply was sent (${err.errmsg}): it may or may not have reached the customer; check with them before resending (DELIVERY_UNCERTAIN)`,
    false,
  );
}

/** Why nothing can be sent for a mini program that withdrew its third-party authorization. */
export const UNAUTHORIZED_REASON =
  'The mini program withdrew its authorization from the third-party platform; it must authorize again before replies can be sent (PLATFORM_UNAUTHORIZED)';

function unauthorizedError(): PlatformError {
  return new PlatformError(0, UNAUTHORIZED_REASON, false);
}

/** The WeChat mini-program channel: custom/send, media upload/get and typing via the API client. */
export function createWechatAdapter(
  ctx: Pick<AppContext, 'config' | 'now'>,
  tokenStore?: TokenStore,
  /** Tokens of channels authorized to a third-party platform (modules/platform). */
  authorizerTokens?: (channel: ChannelRecord) => TokenSource,
): ChannelAdapter {
  // One client per channel id (its single-flight and typing state); the token cache behind it is
  // keyed by base + AppID + AppSecret, so a channel that borrows another's AppID never shares it.
  const clients = new Map<string, { key: string; client: WechatApiClient }>();

  function clientFor(channel: ChannelRecord): WechatApiClient {
    const baseUrl = channel.apiBase ?? ctx.config.wechatApiBase;
    assertAllowedBase(ctx, baseUrl);
    const platform = channel.platform ?? null;
    if (platform?.state === 'unauthorized') throw unauthorizedError();
    if (platform && !authorizerTokens) throw new PlatformError(0, 'No platform tokens', false);
    const key = [
      baseUrl,
      channel.appId,
      channel.secrets.appSecret,
      channel.tokenEndpoint,
      platform?.id ?? '',
    ].join('|');
    const cached = clients.get(channel.id);
    if (cached?.key === key) return cached.client;
    const client = new WechatApiClient({
      baseUrl,
      appId: channel.appId,
      appSecret: channel.secrets.appSecret,
      tokenEndpoint: channel.tokenEndpoint,
      // Re-checked on every request by the platform fetch, not only when the channel is saved.
      allowedBases: allowedBasesOf(ctx),
      now: ctx.now,
      ...(tokenStore ? { tokenStore } : {}),
      ...(platform && authorizerTokens ? { tokenSource: authorizerTokens(channel) } : {}),
    });
    clients.set(channel.id, { key, client });
    return client;
  }

  async function ensureUploaded(
    client: WechatApiClient,
    channel: ChannelRecord,
    media: MediaRef,
    uploaded: { mediaId: string; platformMediaId: string; expiresAt: number }[],
  ): Promise<string> {
    const now = ctx.now();
    if (
      media.platformMediaId &&
      media.platformChannelId === channel.id &&
      (media.platformExpiresAt ?? 0) > now + MEDIA_MARGIN_MS
    ) {
      return media.platformMediaId;
    }
    const { mediaId } = await client.uploadImage(media.data, media.mime);
    uploaded.push({ mediaId: media.id, platformMediaId: mediaId, expiresAt: now + MEDIA_TTL_MS });
    return mediaId;
  }

  /** The platform message for a payload, uploading its images first when needed. */
  async function outboundOf(
    client: WechatApiClient,
    channel: ChannelRecord,
    payload: OutgoingPayload,
    uploaded: { mediaId: string; platformMediaId: string; expiresAt: number }[],
  ): Promise<OutboundPayload> {
    switch (payload.type) {
      case 'text':
        return { type: 'text', text: payload.text };
      case 'image':
        return {
          type: 'image',
          mediaId: await ensureUploaded(client, channel, payload.media, uploaded),
        };
      case 'miniprogrampage': {
        if (!payload.thumb)
          throw new PlatformError(0, 'A mini-program card needs a cover image', false);
        const thumbMediaId = await ensureUploaded(client, channel, payload.thumb, uploaded);
        return {
          type: 'miniprogrampage',
          title: payload.title,
          pagePath: payload.pagePath,
          thumbMediaId,
          appId: payload.appId ?? channel.appId,
        };
      }
      case 'link':
        return {
          type: 'link',
          title: payload.title,
          description: payload.description,
          url: payload.url,
          thumbUrl: payload.thumbUrl,
        };
    }
  }

  return {
    async send(channel, openid, payload, hooks) {
      const uploaded: { mediaId: string; platformMediaId: string; expiresAt: number }[] = [];
      try {
        const client = clientFor(channel);
        const message = await outboundOf(client, channel, payload, uploaded);
        // The token first: a send held up fetching it has not reached WeChat yet.
        await client.getAccessToken();
        await hooks?.beforeSend?.();
        try {
          await client.sendMessage(openid, message);
        } catch (err) {
          // custom/send has no idempotency key: a send that got no answer may have been
          // delivered, so it is never tried again by itself (at most once, never twice).
          if (err instanceof WechatApiError && err.unanswered) throw uncertainSend(err);
          throw err;
        }
        return { uploaded };
      } catch (err) {
        throw toPlatformError(err);
      }
    },
    async fetchMedia(channel, platformMediaId) {
      try {
        const { bytes, contentType } = await clientFor(channel).getMedia(platformMediaId);
        return { data: bytes, mime: contentType };
      } catch (err) {
        throw toPlatformError(err);
      }
    },
    async typing(channel, openid) {
      try {
        await clientFor(channel).typing(openid, 'Typing');
      } catch (err) {
        throw toPlatformError(err);
      }
    },
    async checkCredentials(channel) {
      try {
        await clientFor(channel).checkCredentials();
      } catch (err) {
        throw toPlatformError(err);
      }
    },
    async checkText(channel, openid, text) {
      try {
        return await clientFor(channel).msgSecCheck(openid, text);
      } catch (err) {
        throw toPlatformError(err);
      }
    },
  };
}
