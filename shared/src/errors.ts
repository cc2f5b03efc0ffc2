/**
 * The registry of error codes the API can answer with. Every AppError thrown by the server uses
 * one of these; `docs/api.md` lists them and a test keeps the two in step.
 */
export const ERROR_CODES = {
  VALIDATION_FAILED: { status: 400, message: 'The request body or query is invalid' },
  BODY_TOO_LARGE: { status: 413, message: 'The request body is over the size limit' },
  NOT_FOUND: { status: 404, message: 'No such resource' },
  AUTH_REQUIRED: { status: 401, message: 'Sign in first' },
  AUTH_INVALID_CREDENTIALS: { status: 401, message: 'Wrong login or password' },
  AUTH_RATE_LIMITED: { status: 429, message: 'Too many sign-in attempts; wait and retry' },
  AUTH_FORBIDDEN: { status: 403, message: 'Your role does not allow this' },
  AUTH_CSRF: { status: 403, message: 'This request did not come from the Kefu console' },
  AGENT_LOGIN_TAKEN: { status: 409, message: 'That login is already taken' },
  AGENT_NOT_BOUND: { status: 403, message: 'The agent is not bound to this channel' },
  AGENT_NOT_ONLINE: { status: 409, message: 'The agent is not online' },
  CHANNEL_NOT_FOUND: { status: 404, message: 'Unknown channel' },
  CHANNEL_AGENT_LIMIT: { status: 409, message: 'A channel can have at most 100 agents' },
  CONV_NOT_FOUND: { status: 404, message: 'No such conversation' },
  CONV_ALREADY_TAKEN: { status: 409, message: 'Another agent already accepted this conversation' },
  CONV_NOT_YOURS: { status: 403, message: 'The conversation is assigned to another agent' },
  CONV_NOT_ACTIVE: { status: 409, message: 'Accept the conversation before replying' },
  CONV_CLOSED: { status: 409, message: 'The conversation is closed' },
  CONV_NOT_HANDED_BACK: {
    status: 409,
    message: 'The conversation is not with WeChat’s own customer-service tool',
  },
  WINDOW_CLOSED: {
    status: 409,
    message: 'The reply window is closed: the customer has not written in 48 hours',
  },
  QUOTA_EXHAUSTED: { status: 409, message: 'Reply quota used up until the customer writes again' },
  MESSAGE_NOT_FOUND: { status: 404, message: 'No such message' },
  MESSAGE_NOT_FAILED: { status: 409, message: 'Only a failed message can be retried' },
  MESSAGE_SENSITIVE_WORD: { status: 422, message: 'The message contains a blocked word' },
  MESSAGE_RATE_LIMITED: { status: 429, message: 'Sending too fast; slow down' },
  MEDIA_TOO_LARGE: { status: 413, message: 'Images must be at most 2 MB' },
  MEDIA_UNSUPPORTED: { status: 415, message: 'Only JPEG, PNG and GIF images are accepted' },
  MEDIA_NOT_FOUND: { status: 404, message: 'No such media' },
  PUSH_ENDPOINT_REFUSED: {
    status: 400,
    message: 'Push endpoints must be https: URLs on public addresses',
  },
  WECHAT_BAD_SIGNATURE: { status: 401, message: 'The push signature does not match' },
  WECHAT_BAD_PAYLOAD: { status: 400, message: 'The push body could not be read' },
  WECHAT_APPID_MISMATCH: { status: 401, message: 'The decrypted AppID is not this channel' },
  WECHAT_WRONG_RECIPIENT: {
    status: 403,
    message: 'The push is addressed to another account (ToUserName)',
  },
  WECHAT_STALE_PUSH: { status: 401, message: 'The push timestamp is outside the accepted window' },
  PUSH_OVERLOADED: {
    status: 503,
    message: 'Too many pushes waiting to be stored; WeChat will retry this one',
  },
  DB_BUSY: { status: 503, message: 'The database stayed locked; try again' },
  DELIVERY_UNCERTAIN: {
    status: 409,
    message:
      'Delivery uncertain: the node died while sending; check with the customer before resending',
  },
  INTERNAL: { status: 500, message: 'Internal error' },
  REMINDER_WEBHOOK_REFUSED: {
    status: 400,
    message: 'The robot webhook must be a WeCom group-robot URL (or its key)',
  },
  MESSAGE_CONTENT_RISKY: {
    status: 422,
    message: 'WeChat’s content check found this message risky; it was not sent',
  },
  MESSAGE_CONTENT_CHECK_UNAVAILABLE: {
    status: 503,
    message: 'WeChat’s content check did not answer; the message was not sent, try again',
  },
  PLATFORM_NOT_FOUND: { status: 404, message: 'No such third-party platform' },
  PLATFORM_EXISTS: {
    status: 409,
    message: 'A third-party platform with this component AppID is already configured',
  },
  PLATFORM_NO_TICKET: {
    status: 409,
    message:
      'WeChat has not pushed a component_verify_ticket yet; check the authorization event URL',
  },
  PLATFORM_STATE_INVALID: {
    status: 400,
    message: 'This authorization link is invalid, expired or already used; create a new one',
  },
  PLATFORM_APP_BOUND: {
    status: 409,
    message: 'This mini program is already authorized into another workspace',
  },
  PLATFORM_WECHAT_FAILED: { status: 502, message: 'WeChat refused the third-party platform call' },
  PLATFORM_UNAUTHORIZED: {
    status: 409,
    message: 'The mini program withdrew its authorization from the third-party platform',
  },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The body of every error response. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** Extra facts, e.g. the field that failed validation or the agent who won a race. */
  details?: Record<string, unknown>;
}
