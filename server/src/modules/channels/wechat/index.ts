/** The WeChat mini-program channel: push receiver, API client and reply-window rules. */
export {
  buildEncryptedReply,
  decryptPayload,
  encryptPayload,
  isValidEncodingAesKey,
  sha1Signature,
  verifySignature,
  type EncryptedReplyInput,
} from './crypto';
export {
  parsePush,
  type InboundCard,
  type InboundMessage,
  type InboundMessageType,
  type PushChannel,
  type PushFormat,
  type PushInput,
  type PushMode,
  type PushResult,
} from './inbound';
export { parseJsonFields, parsePushBody, parseXmlFields, type PushFields } from './payload-parse';
export { WechatApiClient, type TypingCommand, type WechatApiClientOptions } from './api-client';
export {
  ERRCODE_HTTP,
  ERRCODE_NETWORK,
  TOKEN_ERRCODES,
  WechatApiError,
  describeErrcode,
  isTransientErrcode,
  type WechatApiErrorInit,
} from './api-errors';
export { sendBody, type OutboundPayload } from './outbound-payload';
export { MemoryTokenStore, type StoredToken, type TokenStore } from './token-store';
export {
  CLOSED_WINDOW,
  afterSend,
  checkSend,
  onCustomerMessage,
  onEnterSession,
  onPlatformError,
  type ReplyWindow,
  type WindowRefusal,
} from './reply-window';
