import type { ChannelRouting } from '@kefu/shared';

/**
 * Platform-neutral shapes that channel adapters produce and consume. Nothing outside
 * `channels/` sees a platform field name.
 */
export interface InboundMessage {
  openid: string;
  createTime: number;
  /** Dedupe key: the platform message id, or user+time+event for events. */
  dedupeKey: string;
  platformMsgId: string | null;
  type: 'text' | 'image' | 'miniprogrampage' | 'enter_session' | 'unsupported';
  text?: string;
  mediaId?: string;
  picUrl?: string;
  card?: { title: string; appId: string; pagePath: string; thumbUrl: string; thumbMediaId: string };
  sessionFrom?: string;
}

export interface ChannelRecord {
  id: string;
  workspaceId: string;
  kind: string;
  name: string;
  appId: string;
  originalId: string;
  mode: 'plaintext' | 'compatible' | 'safe';
  format: 'xml' | 'json';
  tokenEndpoint: 'stable' | 'classic';
  apiBase: string | null;
  idleMinutes: number;
  routing: ChannelRouting;
  secrets: { appSecret: string; token: string; encodingAesKey: string | null };
  /** Set for a mini program authorized to a third-party platform: sends use its token. */
  platform?: { id: string; state: 'authorized' | 'unauthorized' } | null;
}

export type OutgoingPayload =
  | { type: 'text'; text: string }
  | { type: 'image'; media: MediaRef }
  | {
      type: 'miniprogrampage';
      title: string;
      pagePath: string;
      appId?: string;
      thumb: MediaRef | null;
    }
  | { type: 'link'; title: string; description: string; url: string; thumbUrl: string };

/** An image Kefu holds, with the platform's id for it when one is still valid. */
export interface MediaRef {
  id: string;
  mime: string;
  data: Buffer;
  platformMediaId: string | null;
  platformChannelId: string | null;
  platformExpiresAt: number | null;
}

/** A failed platform call: transient ones are retried, permanent ones mark the message failed. */
export class PlatformError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    readonly transient: boolean,
    /** How the failure changes the reply window, when it does. */
    readonly windowEffect: 'closed' | 'exhausted' | null = null,
  ) {
    super(reason);
  }
}

/** Called by an adapter's send once everything but the send itself is ready. */
export interface SendHooks {
  /**
   * Awaited just before the platform call that delivers (after the token and any upload); if it
   * throws, nothing is sent and send rejects. The outbox records the attempt here, so a node
   * that dies before this point is known not to have sent anything.
   */
  beforeSend?: () => Promise<void>;
}

export interface ChannelAdapter {
  /** Sends; returns platform media ids it uploaded so they can be reused while valid. */
  send(
    channel: ChannelRecord,
    openid: string,
    payload: OutgoingPayload,
    hooks?: SendHooks,
  ): Promise<{ uploaded: { mediaId: string; platformMediaId: string; expiresAt: number }[] }>;
  fetchMedia(
    channel: ChannelRecord,
    platformMediaId: string,
  ): Promise<{ data: Buffer; mime: string }>;
  typing(channel: ChannelRecord, openid: string): Promise<void>;
  checkCredentials(channel: ChannelRecord): Promise<void>;
  /** The platform's content-safety verdict on a text for this customer, when it has one. */
  checkText?(channel: ChannelRecord, openid: string, text: string): Promise<ContentVerdict>;
}

/** A platform's content check: pass, review (doubtful) or risky, with its label code. */
export interface ContentVerdict {
  suggest: 'pass' | 'review' | 'risky';
  label: number | null;
}
