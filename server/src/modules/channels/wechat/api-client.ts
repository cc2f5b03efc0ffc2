/**
 * The WeChat server API client (protocol §3): access token, custom send, temporary media and
 * typing. Every request goes through the platform fetch of lib/outbound (allowed bases only, no
 * redirects) with a timeout; a stale-token errcode refreshes the token once and retries once.
 */
import { createPlatformFetch, OutboundRefused, type FetchLike } from '../../../lib/outbound';
import { ERRCODE_HTTP, ERRCODE_NETWORK, TOKEN_ERRCODES, WechatApiError } from './api-errors';
import {
  errmsgOf,
  expectOk,
  looksLikeJson,
  networkMessage,
  tryParseJson,
  unexpected,
  type JsonObject,
  type RawResponse,
} from './api-response';
import { sendBody, type OutboundPayload } from './outbound-payload';
import { MemoryTokenStore, tokenKeyOf, type StoredToken, type TokenStore } from './token-store';

// Callers catch this next to the client; re-exported so one import serves both.
export { WechatApiError } from './api-errors';

export interface WechatApiClientOptions {
  /** e.g. https://api.weixin.qq.com, or the emulator's URL. */
  baseUrl: string;
  appId: string;
  appSecret: string;
  /** `stable` = POST /cgi-bin/stable_token (recommended); `classic` = GET /cgi-bin/token. */
  tokenEndpoint: 'stable' | 'classic';
  /** Bases requests may reach; default: `baseUrl` only. Checked on every request. */
  allowedBases?: readonly string[];
  /** Replaces the platform fetch (which checks allowedBases and refuses redirects). */
  fetchImpl?: FetchLike;
  /** Per request; default 10 s. */
  timeoutMs?: number;
  /** ms epoch clock; default Date.now. */
  now?: () => number;
  tokenStore?: TokenStore;
  /**
   * Where tokens come from instead of AppID + AppSecret: a third-party platform's authorizer
   * token (api_authorizer_token). `key` must not be one tokenKeyOf can produce.
   */
  tokenSource?: TokenSource;
}

/** A token fetcher for clients that do not hold an AppSecret, and the cache key of its tokens. */
export interface TokenSource {
  key: string;
  fetch(): Promise<StoredToken>;
}

export type TypingCommand = 'Typing' | 'CancelTyping';

type BodyFactory = () => { body: RequestInit['body']; headers?: Record<string, string> };

/** A token is reused until 5 minutes before WeChat's expiry. */
const REFRESH_MARGIN_MS = 5 * 60_000;
const DEFAULT_TIMEOUT_MS = 10_000;
const TYPING_PATHS = ['/cgi-bin/message/custom/typing', '/cgi-bin/message/custom/business/typing'];
/** Answers that mean "this typing endpoint is not the one for this account": try the other. */
const WRONG_ENDPOINT_ERRCODES: ReadonlySet<number> = new Set([404, 40101, 40200, 48001]);

/**
 * One channel's API client. Share one instance per channel so single-flight holds; the token
 * cache is keyed by base + AppID + AppSecret (see tokenKeyOf), never by the AppID alone.
 */
export class WechatApiClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: FetchLike;
  private readonly tokenKey: string;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly store: TokenStore;
  private inflight: Promise<StoredToken> | null = null;
  /** The typing endpoint that last worked is tried first. */
  private typingPaths: string[] = [...TYPING_PATHS];

  constructor(private readonly options: WechatApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fetchImpl =
      options.fetchImpl ??
      createPlatformFetch({
        allowedBases: options.allowedBases ?? [this.baseUrl],
        timeoutMs: this.timeoutMs,
      });
    this.tokenKey =
      options.tokenSource?.key ?? tokenKeyOf(this.baseUrl, options.appId, options.appSecret);
    this.now = options.now ?? Date.now;
    this.store = options.tokenStore ?? new MemoryTokenStore();
  }

  /** The cached access token, or a fresh one; concurrent callers share one token request. */
  async getAccessToken(force = false): Promise<string> {
    if (!force) {
      const cached = await this.store.get(this.tokenKey);
      if (cached && this.now() < cached.expiresAt - REFRESH_MARGIN_MS) return cached.token;
    }
    return (await this.fetchTokenOnce()).token;
  }

  /** Fetches a fresh token; throws WechatApiError when the AppID/AppSecret are refused. */
  async checkCredentials(): Promise<void> {
    await this.getAccessToken(true);
  }

  /** POST /cgi-bin/message/custom/send. */
  async sendMessage(openid: string, msg: OutboundPayload): Promise<void> {
    await this.postJson('/cgi-bin/message/custom/send', sendBody(openid, msg));
  }

  /**
   * POST /wxa/msg_sec_check, version 2: WeChat's verdict on a text the customer (openid) would
   * receive. Scene 1 = 资料 (profile/free text), the scene WeChat's docs give for replies.
   */
  async msgSecCheck(
    openid: string,
    content: string,
  ): Promise<{ suggest: 'pass' | 'review' | 'risky'; label: number | null }> {
    const json = await this.postJson('/wxa/msg_sec_check', {
      content,
      version: 2,
      scene: 1,
      openid,
    });
    const result = json.result as { suggest?: unknown; label?: unknown } | undefined;
    const suggest = result?.suggest;
    if (suggest !== 'pass' && suggest !== 'review' && suggest !== 'risky')
      throw unexpected('WeChat answered msg_sec_check without result.suggest', 200);
    return { suggest, label: typeof result?.label === 'number' ? result.label : null };
  }

  /** Uploads a temporary image (valid 3 days); createdAt is ms epoch. */
  async uploadImage(
    bytes: Buffer,
    mime: string,
    filename?: string,
  ): Promise<{ mediaId: string; createdAt: number }> {
    const name = filename ?? `image.${extensionFor(mime)}`;
    const raw = await this.callWithToken('POST', '/cgi-bin/media/upload', { type: 'image' }, () => {
      const form = new FormData();
      form.append('media', new Blob([new Uint8Array(bytes)], { type: mime }), name);
      return { body: form };
    });
    const json = expectOk(raw);
    const mediaId = json.media_id;
    if (typeof mediaId !== 'string' || mediaId === '') {
      throw unexpected('WeChat answered the upload without a media_id', raw.status);
    }
    const createdAt = typeof json.created_at === 'number' ? json.created_at * 1000 : this.now();
    return { mediaId, createdAt };
  }

  /** Downloads a temporary media file; a JSON body is an error (or an unsupported video). */
  async getMedia(mediaId: string): Promise<{ bytes: Buffer; contentType: string }> {
    const raw = await this.callWithToken('GET', '/cgi-bin/media/get', { media_id: mediaId });
    const json = looksLikeJson(raw) ? tryParseJson(raw.body) : null;
    if (json) {
      expectOk(raw);
      throw unexpected('The media is not an image (WeChat returned a link)', raw.status);
    }
    if (raw.status < 200 || raw.status >= 300) {
      throw new WechatApiError({
        errcode: ERRCODE_HTTP,
        errmsg: `HTTP ${raw.status}`,
        httpStatus: raw.status,
      });
    }
    return { bytes: raw.body, contentType: raw.contentType || 'application/octet-stream' };
  }

  /** Shows or cancels "typing"; tries /custom/typing, then /custom/business/typing. */
  async typing(openid: string, command: TypingCommand): Promise<void> {
    let lastError: unknown = null;
    for (const path of [...this.typingPaths]) {
      try {
        await this.postJson(path, { touser: openid, command });
        this.typingPaths = [path, ...TYPING_PATHS.filter((p) => p !== path)];
        return;
      } catch (err) {
        if (!(err instanceof WechatApiError) || !isWrongEndpoint(err)) throw err;
        lastError = err;
      }
    }
    throw lastError;
  }

  private async postJson(path: string, payload: JsonObject): Promise<JsonObject> {
    const raw = await this.callWithToken('POST', path, {}, () => ({
      body: JSON.stringify(payload),
      headers: { 'content-type': 'application/json; charset=utf-8' },
    }));
    return expectOk(raw);
  }

  /** One API call with the access token; on a stale-token errcode, refresh once and retry. */
  private async callWithToken(
    method: 'GET' | 'POST',
    path: string,
    query: Record<string, string>,
    makeBody?: BodyFactory,
  ): Promise<RawResponse> {
    let token = await this.getAccessToken();
    for (let attempt = 0; ; attempt++) {
      const raw = await this.request(method, path, { ...query, access_token: token }, makeBody);
      const json = looksLikeJson(raw) ? tryParseJson(raw.body) : null;
      const errcode = json && typeof json.errcode === 'number' ? json.errcode : 0;
      if (!TOKEN_ERRCODES.has(errcode)) return raw;
      if (attempt > 0) {
        throw new WechatApiError({ errcode, errmsg: errmsgOf(json), transient: true });
      }
      token = await this.tokenAfterRejection(token);
    }
  }

  /** A token other than the one just refused: someone else's refresh, or a new fetch. */
  private async tokenAfterRejection(rejected: string): Promise<string> {
    const cached = await this.store.get(this.tokenKey);
    if (cached && cached.token !== rejected && this.now() < cached.expiresAt) return cached.token;
    return (await this.fetchTokenOnce()).token;
  }

  private fetchTokenOnce(): Promise<StoredToken> {
    this.inflight ??= this.fetchTokenShared().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  /** With a shared store: refresh under its lock, and take another node's fresh token if it won. */
  private async fetchTokenShared(): Promise<StoredToken> {
    const { store } = this;
    if (!store.lock) return this.fetchToken();
    const key = this.tokenKey;
    const before = await store.get(key);
    return store.lock(key, async () => {
      const current = await store.get(key);
      const refreshedElsewhere = current && current.token !== before?.token;
      if (refreshedElsewhere && this.now() < current.expiresAt - REFRESH_MARGIN_MS) return current;
      return this.fetchToken();
    });
  }

  private async fetchToken(): Promise<StoredToken> {
    const { appId, appSecret, tokenEndpoint, tokenSource } = this.options;
    if (tokenSource) {
      const fetched = await tokenSource.fetch();
      await this.store.set(this.tokenKey, fetched);
      return fetched;
    }
    const raw =
      tokenEndpoint === 'stable'
        ? await this.request('POST', '/cgi-bin/stable_token', {}, () => ({
            // Normal mode: force_refresh would invalidate the token other callers still hold.
            body: JSON.stringify({
              grant_type: 'client_credential',
              appid: appId,
              secret: appSecret,
              force_refresh: false,
            }),
            headers: { 'content-type': 'application/json; charset=utf-8' },
          }))
        : await this.request('GET', '/cgi-bin/token', {
            grant_type: 'client_credential',
            appid: appId,
            secret: appSecret,
          });
    const json = expectOk(raw, true);
    const token = json.access_token;
    const expiresIn = json.expires_in;
    if (typeof token !== 'string' || token === '' || typeof expiresIn !== 'number') {
      throw unexpected('WeChat answered the token request without a token', raw.status);
    }
    const value = { token, expiresAt: this.now() + expiresIn * 1000 };
    await this.store.set(this.tokenKey, value);
    return value;
  }

  /** The HTTP exchange; network failures, timeouts and 5xx become transient errcode -2. */
  private async request(
    method: 'GET' | 'POST',
    path: string,
    query: Record<string, string>,
    makeBody?: BodyFactory,
  ): Promise<RawResponse> {
    const url = `${this.baseUrl}${path}?${new URLSearchParams(query).toString()}`;
    const made = makeBody?.();
    let res: Response;
    let body: Buffer;
    try {
      res = await this.fetchImpl(url, {
        method,
        body: made?.body ?? null,
        headers: made?.headers ?? {},
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      body = Buffer.from(await res.arrayBuffer());
    } catch (err) {
      if (err instanceof OutboundRefused) throw refusedError(err);
      const timedOut = err instanceof Error && err.name === 'TimeoutError';
      const errmsg = timedOut ? `timeout after ${this.timeoutMs} ms` : networkMessage(err);
      throw new WechatApiError({
        errcode: ERRCODE_NETWORK,
        errmsg,
        transient: true,
        unanswered: !neverConnected(err),
      });
    }
    // A custom fetchImpl may hand back a redirect: it is refused here too, never followed.
    if (res.status >= 300 && res.status < 400) {
      throw refusedError(new OutboundRefused('redirect', `HTTP ${res.status}`, res.status));
    }
    if (res.status >= 500) {
      throw new WechatApiError({
        errcode: ERRCODE_NETWORK,
        errmsg: `HTTP ${res.status}`,
        transient: true,
        reason: `WeChat answered with server error HTTP ${res.status} (${ERRCODE_NETWORK})`,
        httpStatus: res.status,
      });
    }
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', body };
  }
}

/** Failures that happen before a byte of the request can have reached the server. */
const CONNECT_FAILURES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function neverConnected(err: unknown): boolean {
  const cause = err instanceof Error ? err.cause : undefined;
  const code = cause instanceof Error && 'code' in cause ? String(cause.code) : '';
  return CONNECT_FAILURES.has(code);
}

/**
 * A redirect or a URL outside the allowed bases is a configuration problem (or an attack), not
 * a hiccup: permanent, so the message fails at once with a reason instead of retrying.
 */
function refusedError(err: OutboundRefused): WechatApiError {
  const reason =
    err.kind === 'redirect'
      ? `WeChat answered with a redirect (HTTP ${err.status ?? '3xx'}), which is not followed (${ERRCODE_HTTP})`
      : `Outbound request refused: ${err.message} (${ERRCODE_HTTP})`;
  return new WechatApiError({
    errcode: ERRCODE_HTTP,
    errmsg: err.message,
    transient: false,
    reason,
    ...(err.status !== undefined ? { httpStatus: err.status } : {}),
  });
}

function isWrongEndpoint(err: WechatApiError): boolean {
  return err.httpStatus === 404 || WRONG_ENDPOINT_ERRCODES.has(err.errcode);
}

function extensionFor(mime: string): string {
  if (mime.includes('png')) return 'png';
  if (mime.includes('gif')) return 'gif';
  return 'jpg';
}
