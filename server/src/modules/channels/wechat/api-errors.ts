/** Errors from the WeChat server API, with a reason a person can read (protocol §3.6). */

/** errcodes that mean "the access_token is stale": refresh once and retry once. */
export const TOKEN_ERRCODES: ReadonlySet<number> = new Set([40001, 40014, 42001]);

/** Our own codes for failures that never reached a WeChat answer. */
export const ERRCODE_NETWORK = -2;
export const ERRCODE_HTTP = -3;

const REASONS: Record<number, string> = {
  [-3]: 'WeChat answered with an unexpected HTTP status',
  [-2]: 'Could not reach WeChat (network error, timeout or server error)',
  [-1]: 'WeChat is busy; retry later',
  40001: 'Invalid credential: wrong AppSecret, or the access token is not the latest',
  40002: 'Invalid grant_type',
  40003: 'The openid is not a user of this mini program',
  40004: 'Invalid media type',
  40005: 'Unsupported file type',
  40007: 'Invalid or expired media_id',
  40009: 'Invalid image size',
  40013: 'Invalid AppID',
  40014: 'Invalid access token',
  40101: 'Missing parameter',
  40164: "The server's IP address is not in the mini program's API IP whitelist",
  40200: 'Invalid account type for this API',
  41001: 'Missing access token',
  42001: 'The access token has expired',
  43004: 'The recipient must follow the account first',
  43019: 'The recipient has blocked this account',
  44004: 'The text is empty',
  45002: 'The message is too long',
  45008: 'Too many articles in one message',
  45009: 'Daily API quota or rate limit reached',
  45015: 'Outside the 48-hour reply window',
  45047: 'Reply quota used up until the customer writes again',
  45072: 'Invalid typing command',
  45080: 'Typing needs a message exchange within the last 30 seconds',
  45081: 'Already showing typing',
  48001: 'This API is not authorised for the mini program',
  65400: 'The new customer-service feature is not enabled for this account',
  65401: 'Invalid customer-service account',
  65413: 'No customer-service session exists for this customer',
  65414: 'The customer is being served by another agent',
  65415: 'The customer-service agent is not online',
  70000: 'Message blocked to protect minors',
};

/** A readable sentence for a WeChat errcode, ending with the code, e.g. "… (45015)". */
export function describeErrcode(errcode: number, errmsg?: string): string {
  const known = REASONS[errcode];
  if (known !== undefined) return `${known} (${errcode})`;
  const detail = errmsg ? `: ${errmsg}` : '';
  return `WeChat error${detail} (${errcode})`;
}

/** -1 (busy) and our network code are worth retrying; every other errcode is permanent. */
export function isTransientErrcode(errcode: number): boolean {
  return errcode === -1 || errcode === ERRCODE_NETWORK;
}

export interface WechatApiErrorInit {
  errcode: number;
  errmsg: string;
  transient?: boolean;
  reason?: string;
  /** The HTTP status when it was not 200, for logs. */
  httpStatus?: number;
  /**
   * The request may have reached WeChat but no answer came back (a timeout, a connection reset
   * after it was written): whether WeChat acted on it is unknown.
   */
  unanswered?: boolean;
}

/** A failed WeChat API call. `transient` says whether a later retry may succeed. */
export class WechatApiError extends Error {
  readonly errcode: number;
  readonly errmsg: string;
  readonly transient: boolean;
  readonly reason: string;
  readonly httpStatus: number | undefined;
  readonly unanswered: boolean;

  constructor(init: WechatApiErrorInit) {
    const reason = init.reason ?? describeErrcode(init.errcode, init.errmsg);
    super(reason);
    this.name = 'WechatApiError';
    this.errcode = init.errcode;
    this.errmsg = init.errmsg;
    this.transient = init.transient ?? isTransientErrcode(init.errcode);
    this.reason = reason;
    this.httpStatus = init.httpStatus;
    this.unanswered = init.unanswered ?? false;
  }
}
