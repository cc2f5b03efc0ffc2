/**
 * Tokens of third-party platforms: the component token (from the latest verify ticket) and each
 * authorized mini program's authorizer token (from its refresh token). Both live in the token
 * store the mini programs' own tokens use (Redis in a cluster: one token shared by every node,
 * refreshed by one node at a time) under keys tokenKeyOf can never produce.
 */
import { createHash } from 'node:crypto';
import type { AppContext } from '../../context';
import { AppError } from '../../errors';
import { allowedBasesOf } from '../channels/registry';
import type { ChannelRecord } from '../channels/types';
import type { TokenSource } from '../channels/wechat/api-client';
import { TOKEN_ERRCODES, WechatApiError } from '../channels/wechat/api-errors';
import {
  MemoryTokenStore,
  type StoredToken,
  type TokenStore,
} from '../channels/wechat/token-store';
import { UNAUTHORIZED_REASON } from '../channels/wechat/adapter';
import { ComponentClient } from './component-client';
import { loadPlatform, type PlatformRecord } from './platform-store';

/** A token is renewed 5 minutes before WeChat's expiry, like the mini programs' own. */
const MARGIN_MS = 5 * 60_000;

function hash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex');
}

/** Component and authorizer tokens of every platform of this installation. */
export class PlatformTokens {
  private readonly inflight = new Map<string, Promise<StoredToken>>();

  constructor(
    private readonly ctx: AppContext,
    private readonly store: TokenStore = new MemoryTokenStore(),
  ) {}

  /** The component API client of a platform. */
  client(p: PlatformRecord): ComponentClient {
    return new ComponentClient(p.apiBase, p.componentAppId, allowedBasesOf(this.ctx));
  }

  /** Runs fn with the component token; a stale-token answer refreshes it and retries once. */
  async withComponentToken<T>(p: PlatformRecord, fn: (token: string) => Promise<T>): Promise<T> {
    const token = await this.componentToken(p);
    try {
      return await fn(token);
    } catch (err) {
      if (!(err instanceof WechatApiError) || !TOKEN_ERRCODES.has(err.errcode)) throw err;
      return fn(await this.componentToken(p, token));
    }
  }

  /** The cached component token, or a fresh one; `rejected` is one WeChat just refused. */
  async componentToken(p: PlatformRecord, rejected?: string): Promise<string> {
    const key = `component:${hash(p.apiBase, p.componentAppId, p.secrets.componentSecret)}`;
    const cached = await this.store.get(key);
    const now = this.ctx.now();
    if (cached && cached.token !== rejected && now < cached.expiresAt - MARGIN_MS)
      return cached.token;
    return (await this.refreshShared(key, cached, () => this.fetchComponentToken(p, key))).token;
  }

  private async fetchComponentToken(p: PlatformRecord, key: string): Promise<StoredToken> {
    if (!p.ticket) throw new AppError('PLATFORM_NO_TICKET');
    const { token, expiresIn } = await this.client(p).componentToken(
      p.secrets.componentSecret,
      p.ticket,
    );
    const value = { token, expiresAt: this.ctx.now() + expiresIn * 1000 };
    await this.store.set(key, value);
    return value;
  }

  /** Single-flight here, and under the store's lock across nodes; another node's win is taken. */
  private refreshShared(
    key: string,
    before: StoredToken | null,
    fetch: () => Promise<StoredToken>,
  ): Promise<StoredToken> {
    const running = this.inflight.get(key);
    if (running) return running;
    const { store } = this;
    const run = async () => {
      if (!store.lock) return fetch();
      return store.lock(key, async () => {
        const current = await store.get(key);
        const elsewhere = current && current.token !== before?.token;
        if (elsewhere && this.ctx.now() < current.expiresAt - MARGIN_MS) return current;
        return fetch();
      });
    };
    const p = run().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /**
   * Where an authorized channel's API client gets its token: api_authorizer_token with the
   * stored refresh token. The client caches it and refreshes it under the store's lock.
   */
  sourceFor(channel: ChannelRecord): TokenSource {
    const platformId = channel.platform?.id ?? '';
    const base = channel.apiBase ?? this.ctx.config.wechatApiBase;
    return {
      // The channel's AppID is what the admin sees; the key follows the authorization row.
      key: `authorizer:${hash(base, platformId, channel.id)}`,
      fetch: () => this.refreshAuthorizer(channel.id),
    };
  }

  /** Seeds the token api_query_auth returned, so the first reply does not refresh at once. */
  async seed(channel: ChannelRecord, token: string, expiresIn: number): Promise<void> {
    await this.store.set(this.sourceFor(channel).key, {
      token,
      expiresAt: this.ctx.now() + expiresIn * 1000,
    });
  }

  /** Drops a withdrawn authorization's cached token on every node. */
  async forget(channel: ChannelRecord): Promise<void> {
    await this.store.delete?.(this.sourceFor(channel).key);
  }

  private async refreshAuthorizer(channelId: string): Promise<StoredToken> {
    const { ctx } = this;
    const row = await ctx.db
      .selectFrom('platformAuthorizers')
      .selectAll()
      .where('channelId', '=', channelId)
      .executeTakeFirst();
    if (!row?.refreshEnc) {
      throw new WechatApiError({
        errcode: 0,
        errmsg: 'unauthorized',
        transient: false,
        reason: UNAUTHORIZED_REASON,
      });
    }
    const refreshToken = ctx.secrets.open<string>(row.refreshEnc);
    const p = await loadPlatform(ctx, row.platformId);
    const next = await this.withComponentToken(p, (t) =>
      this.client(p).authorizerToken(t, row.authorizerAppId, refreshToken),
    );
    if (next.refreshToken !== refreshToken) {
      await ctx.db
        .updateTable('platformAuthorizers')
        .set({ refreshEnc: ctx.secrets.seal(next.refreshToken), updatedAt: ctx.now() })
        .where('channelId', '=', channelId)
        .where('refreshEnc', 'is not', null)
        .execute();
    }
    ctx.log.info({ channelId }, 'authorizer token refreshed');
    return { token: next.token, expiresAt: ctx.now() + next.expiresIn * 1000 };
  }
}
