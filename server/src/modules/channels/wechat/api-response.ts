/** Reading WeChat API responses into JSON or WechatApiError. */
import { ERRCODE_HTTP, WechatApiError, describeErrcode } from './api-errors';

export type JsonObject = Record<string, unknown>;

/** One HTTP answer, body fully read. */
export interface RawResponse {
  status: number;
  contentType: string;
  body: Buffer;
}

/** The JSON body of a successful call; throws WechatApiError for any errcode other than 0. */
export function expectOk(raw: RawResponse, tokenRequest = false): JsonObject {
  const json = tryParseJson(raw.body);
  if (!json) throw unexpected(`WeChat answered HTTP ${raw.status} with no JSON`, raw.status);
  const errcode = typeof json.errcode === 'number' ? json.errcode : 0;
  if (errcode !== 0) {
    const errmsg = errmsgOf(json);
    // From the token endpoint, 40001 is a wrong AppSecret, not a stale token.
    const reason =
      tokenRequest && errcode === 40001
        ? 'Wrong AppSecret, or it belongs to another app (40001)'
        : describeErrcode(errcode, errmsg);
    throw new WechatApiError({ errcode, errmsg, reason, httpStatus: raw.status });
  }
  if (raw.status < 200 || raw.status >= 300) {
    throw new WechatApiError({
      errcode: ERRCODE_HTTP,
      errmsg: `HTTP ${raw.status}`,
      httpStatus: raw.status,
    });
  }
  return json;
}

/** A permanent error for an answer that does not have the documented shape. */
export function unexpected(reason: string, httpStatus: number): WechatApiError {
  return new WechatApiError({
    errcode: ERRCODE_HTTP,
    errmsg: 'unexpected response',
    reason: `${reason} (${ERRCODE_HTTP})`,
    httpStatus,
  });
}

/** Binary media never start with "{"; WeChat's errors sometimes come as text/plain. */
export function looksLikeJson(raw: RawResponse): boolean {
  if (raw.contentType.includes('json')) return true;
  const first = raw.body.subarray(0, 64).toString('latin1').trimStart();
  return first.startsWith('{');
}

/** The body as a JSON object, or null. */
export function tryParseJson(body: Buffer): JsonObject | null {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as JsonObject)
      : null;
  } catch {
    return null;
  }
}

/** The errmsg field, or ''. */
export function errmsgOf(json: JsonObject | null): string {
  const errmsg = json?.errmsg;
  return typeof errmsg === 'string' ? errmsg : '';
}

/** A short description of a fetch failure, with the socket error code when there is one. */
export function networkMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause: unknown = err.cause;
  const code = cause instanceof Error && 'code' in cause ? String(cause.code) : '';
  return code ? `${err.message} (${code})` : err.message;
}
