/**
 * The WeChat Open Platform's component API (/cgi-bin/component/*): component token, pre-auth
 * code, authorization query, authorizer token refresh and authorizer info. Every request goes
 * through the platform fetch of lib/outbound (allowed bases only, no redirects).
 */
import { createPlatformFetch, OutboundRefused, type FetchLike } from '../../lib/outbound';
import { ERRCODE_NETWORK, WechatApiError } from '../channels/wechat/api-errors';
import { errmsgOf, tryParseJson, type JsonObject } from '../channels/wechat/api-response';

/** Readable reasons of the component API's own errcodes (the rest read as in api-errors). */
const COMPONENT_REASONS: Record<number, string> = {
  40001: 'Wrong component AppSecret, or the component access token is not the latest',
  40013: 'Invalid component AppID',
  42001: 'The component access token has expired',
  61004: "This server's IP address is not in the platform's IP whitelist",
  61005: 'The component_verify_ticket has expired; wait for the next one WeChat pushes',
  61006: 'The component_verify_ticket is invalid',
  61007: 'The mini program has not granted this permission to the platform',
  61009: 'The authorization code is invalid',
  61010: 'The authorization code has expired',
  61023:
    'The authorizer refresh token is invalid (the mini program may have withdrawn its authorization)',
};

/** A reason a person can read, ending with the code. */
export function componentReason(errcode: number, errmsg: string): string {
  const known = COMPONENT_REASONS[errcode];
  return known ? `${known} (${errcode})` : `WeChat error: ${errmsg || 'unknown'} (${errcode})`;
}

export interface AuthorizationInfo {
  authorizerAppId: string;
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
  funcInfo: number[];
}

/** One component's API client; it holds no state (tokens are cached by the caller). */
export class ComponentClient {
  private readonly fetchImpl: FetchLike;
  private readonly base: string;

  constructor(
    base: string,
    private readonly componentAppId: string,
    allowedBases: readonly string[],
    fetchImpl?: FetchLike,
  ) {
    this.base = base.replace(/\/+$/, '');
    this.fetchImpl = fetchImpl ?? createPlatformFetch({ allowedBases, timeoutMs: 10_000 });
  }

  /** POST api_component_token: the component token for a verify ticket. */
  async componentToken(
    secret: string,
    ticket: string,
  ): Promise<{ token: string; expiresIn: number }> {
    const json = await this.post('api_component_token', null, {
      component_appid: this.componentAppId,
      component_appsecret: secret,
      component_verify_ticket: ticket,
    });
    return { token: str(json, 'component_access_token'), expiresIn: num(json, 'expires_in') };
  }

  /** POST api_create_preauthcode. */
  async preAuthCode(componentToken: string): Promise<{ code: string; expiresIn: number }> {
    const json = await this.post('api_create_preauthcode', componentToken, {
      component_appid: this.componentAppId,
    });
    return { code: str(json, 'pre_auth_code'), expiresIn: num(json, 'expires_in') };
  }

  /** POST api_query_auth: what an authorization code stands for (verified by WeChat). */
  async queryAuth(componentToken: string, authCode: string): Promise<AuthorizationInfo> {
    const json = await this.post('api_query_auth', componentToken, {
      component_appid: this.componentAppId,
      authorization_code: authCode,
    });
    const info = json.authorization_info;
    if (typeof info !== 'object' || info === null) throw malformed('api_query_auth');
    const i = info as JsonObject;
    const funcInfo = Array.isArray(i.func_info)
      ? i.func_info.flatMap((f: unknown) => {
          const id = (f as { funcscope_category?: { id?: unknown } }).funcscope_category?.id;
          return typeof id === 'number' ? [id] : [];
        })
      : [];
    return {
      authorizerAppId: str(i, 'authorizer_appid'),
      accessToken: str(i, 'authorizer_access_token'),
      expiresIn: num(i, 'expires_in'),
      refreshToken: str(i, 'authorizer_refresh_token'),
      funcInfo,
    };
  }

  /** POST api_authorizer_token: a fresh authorizer token (and maybe a new refresh token). */
  async authorizerToken(
    componentToken: string,
    authorizerAppId: string,
    refreshToken: string,
  ): Promise<{ token: string; expiresIn: number; refreshToken: string }> {
    const json = await this.post('api_authorizer_token', componentToken, {
      component_appid: this.componentAppId,
      authorizer_appid: authorizerAppId,
      authorizer_refresh_token: refreshToken,
    });
    const next =
      typeof json.authorizer_refresh_token === 'string' ? json.authorizer_refresh_token : '';
    return {
      token: str(json, 'authorizer_access_token'),
      expiresIn: num(json, 'expires_in'),
      refreshToken: next || refreshToken,
    };
  }

  /** POST api_get_authorizer_info: the mini program's name and original id (gh_…). */
  async authorizerInfo(
    componentToken: string,
    authorizerAppId: string,
  ): Promise<{ nickName: string; userName: string }> {
    const json = await this.post('api_get_authorizer_info', componentToken, {
      component_appid: this.componentAppId,
      authorizer_appid: authorizerAppId,
    });
    const info = (json.authorizer_info ?? {}) as JsonObject;
    const nickName = typeof info.nick_name === 'string' ? info.nick_name : authorizerAppId;
    return { nickName, userName: str(info, 'user_name') };
  }

  private async post(api: string, token: string | null, body: JsonObject): Promise<JsonObject> {
    const query = token ? `?component_access_token=${encodeURIComponent(token)}` : '';
    let res: Response;
    let text: Buffer;
    try {
      res = await this.fetchImpl(`${this.base}/cgi-bin/component/${api}${query}`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json; charset=utf-8' },
        signal: AbortSignal.timeout(10_000),
      });
      text = Buffer.from(await res.arrayBuffer());
    } catch (err) {
      const reason =
        err instanceof OutboundRefused
          ? `Outbound request refused: ${err.message}`
          : `Could not reach WeChat (${(err as Error).message})`;
      throw new WechatApiError({
        errcode: ERRCODE_NETWORK,
        errmsg: String(err),
        transient: !(err instanceof OutboundRefused),
        reason,
      });
    }
    const json = tryParseJson(text);
    if (!json || res.status >= 300) {
      throw new WechatApiError({
        errcode: ERRCODE_NETWORK,
        errmsg: `HTTP ${res.status}`,
        transient: res.status >= 500,
        reason: `WeChat answered ${api} with HTTP ${res.status} and no JSON`,
      });
    }
    const errcode = typeof json.errcode === 'number' ? json.errcode : 0;
    if (errcode !== 0) {
      const errmsg = errmsgOf(json);
      throw new WechatApiError({ errcode, errmsg, reason: componentReason(errcode, errmsg) });
    }
    return json;
  }
}

function malformed(api: string): WechatApiError {
  return new WechatApiError({
    errcode: -3,
    errmsg: 'unexpected response',
    reason: `WeChat answered ${api} without the documented fields (-3)`,
  });
}

function str(json: JsonObject, key: string): string {
  const v = json[key];
  if (typeof v !== 'string' || v === '') throw malformed(key);
  return v;
}

function num(json: JsonObject, key: string): number {
  const v = json[key];
  if (typeof v !== 'number') throw malformed(key);
  return v;
}
