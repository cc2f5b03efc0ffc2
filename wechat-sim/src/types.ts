export type PushMode = 'plaintext' | 'compatible' | 'safe';
export type PushFormat = 'xml' | 'json';

/** One mini program as configured in the WeChat admin console (§1.1). */
export interface AppConfig {
  appId: string;
  appSecret: string;
  /** Original id, `gh_…`: the ToUserName of every push. */
  originalId: string;
  token: string;
  /** 43 characters of [a-zA-Z0-9]. */
  encodingAesKey: string;
  mode: PushMode;
  format: PushFormat;
  /** Where customer messages are pushed; without it actions are recorded but not delivered. */
  pushUrl?: string;
  /**
   * The AppID sealed into encrypted pushes, when not the app's own: a third-party platform's
   * component AppID while the app is authorized to it.
   */
  encryptAppId?: string | undefined;
}

/** Platform APIs a fault can be injected into. */
export type FaultApi = 'send' | 'upload' | 'token' | 'typing' | 'media_get';

export interface FaultSpec {
  api: FaultApi;
  errcode: number;
  errmsg?: string;
  /** How many calls the fault answers; default 1. */
  times?: number;
  /** HTTP status of the faulty answer; default 200 like WeChat. */
  httpStatus?: number;
  /** Destroy the socket without answering (the caller sees a network error). */
  dropConnection?: boolean;
}

/** A signed push, ready to POST. `url` already carries the query string. */
export interface PushRequest {
  url: string;
  query: Record<string, string>;
  body: string;
  contentType: string;
}

export interface PushResult {
  /** HTTP status of the last answer; 0 when nothing answered (timeout, network, no pushUrl). */
  status: number;
  body: string;
  /** MsgId of the pushed message (absent for events). */
  msgId?: string;
  /** Tries made: 1..3; 0 when the app has no pushUrl. */
  attempts: number;
  /** HTTP 200 with body exactly `success` or empty (§1.7). */
  acknowledged: boolean;
  /** Network or timeout error of the last try. */
  error?: string;
  /** The answer was a valid transfer_customer_service: the customer went to WeChat's own tool. */
  handedBack?: boolean;
  /** Why a 200 answer that is not `success` was not accepted (malformed, or for an event). */
  answerError?: string;
}

export interface ImageBlob {
  bytes: Buffer;
  mime: string;
}

export interface CardContent {
  title: string;
  pagePath: string;
  appId?: string;
  thumbMediaId: string;
  thumb?: ImageBlob;
}

export interface LinkContent {
  title: string;
  description: string;
  url: string;
  thumbUrl: string;
}

export type OutboundKind = 'text' | 'image' | 'miniprogrampage' | 'link';

/** What the customer received from Kefu through custom/send. */
export interface InboxItem {
  msgtype: OutboundKind;
  text?: string;
  mediaId?: string;
  image?: ImageBlob;
  card?: CardContent;
  link?: LinkContent;
  at: number;
}

/** One entry of the customer's chat, either direction, in order. */
export interface TimelineItem {
  seq: number;
  /** `in`: customer → Kefu (pushed); `out`: Kefu → customer (custom/send). */
  direction: 'in' | 'out';
  at: number;
  kind: OutboundKind | 'event';
  text?: string;
  mediaId?: string;
  image?: ImageBlob;
  card?: CardContent;
  link?: LinkContent;
  event?: 'user_enter_tempsession';
  sessionFrom?: string;
  msgId?: string;
  /** Delivery outcome of an inbound push, set once the push finished. */
  push?: { status: number; attempts: number; acknowledged: boolean; handedBack?: boolean };
}

/** Reply window of one customer (§3.3). */
export interface WindowState {
  expiresAt: number;
  quota: number;
}

export interface TypingState {
  typing: boolean;
  until?: number;
}

/** Calls received per platform API (failed ones included). `push` counts push tries made. */
export interface SimStats {
  token: number;
  stable_token: number;
  send: number;
  upload: number;
  media_get: number;
  typing: number;
  push: number;
  /** Customer messages handed to WeChat's own tool (transfer_customer_service answers). */
  handedBack: number;
}

/** One custom/send call the platform accepted (errcode 0), in the order accepted. */
export interface SendRecord {
  /** Increasing over every accepted send of the sim. */
  seq: number;
  /** Sim time of the acceptance. */
  at: number;
  appId: string;
  touser: string;
  msgtype: OutboundKind;
  /** The text of a text message (the rest is in `body`). */
  text?: string;
  /** The request body as received. */
  body: Record<string, unknown>;
}

/** A customer message recorded and signed but not delivered yet (the caller delivers it). */
export interface ComposedPush {
  msgId: string;
  push: PushRequest;
}
