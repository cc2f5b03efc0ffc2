export { createSim } from './sim';
export type { CardInput, Sim, SimOptions, UrlCheck } from './sim';
export type * from './types';
export { appConfigSchema, generateAppConfig, parseAppConfig } from './app-config';
export {
  aesKeyOf,
  decryptMessage,
  encryptMessage,
  pkcs7Pad32,
  pkcs7Unpad32,
  randomNonce,
  sha1Signature,
} from './crypto';
export type { Decrypted } from './crypto';
export { buildPushRequest, toJson, toXml } from './push-build';
export type { PushBuildOptions, PushBuildOverrides, PushMessage } from './push-build';
export { deliverPush, PUSH_TRIES } from './push-deliver';
export { applyGrant, ENTER_GRANT, isWindowOpen, MESSAGE_GRANT } from './reply-window';
export type { WindowGrant } from './reply-window';
export { IMAGE_MAX_BYTES, MEDIA_TTL_MS, sniffImageMime } from './media-store';
export { TOKEN_OVERLAP_MS, TOKEN_TTL_MS } from './tokens';
export { TEXT_MAX_BYTES, TYPING_EXCHANGE_MS, TYPING_TTL_MS } from './routes-message';
export { makeCardThumb, makePng } from './png';
export { boundaryOf, parseMultipart } from './multipart';
export {
  LABEL_ILLEGAL,
  LABEL_NORMAL,
  LABEL_OTHER,
  SEC_CHECK_MAX_CHARS,
  SEC_CHECK_RECENT_MS,
} from './routes-security';
export type { ContentRules, SecurityCall, SecurityControl, SecurityFault } from './routes-security';
export type { PlatformSim } from './platform-sim';
export type { ComponentConfig } from './component-state';
export type { AuthorizeInput } from './component-actions';
export { buildComponentPush } from './component-actions';
