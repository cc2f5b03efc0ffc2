import { randomInt } from 'node:crypto';
import { buildPushRequest, type PushBuildOverrides, type PushMessage } from './push-build';
import { deliverPush } from './push-deliver';
import { applyGrant, ENTER_GRANT, MESSAGE_GRANT } from './reply-window';
import { readPushAnswer } from './transfer-reply';
import type { SimState, TimelineDraft } from './state';
import type { ComposedPush, PushRequest, PushResult, TimelineItem } from './types';

export interface ActionContext {
  state: SimState;
  pushTimeoutMs: number;
  /** Base of PicUrl / ThumbUrl, e.g. `http://127.0.0.1:7100`. */
  mediaBaseUrl(): string;
}

export interface CardInput {
  title: string;
  pagePath: string;
  thumb: Buffer;
  /** AppId field of the card; defaults to the app itself. */
  appIdOfCard?: string;
  thumbMime?: string;
}

let msgSerial = randomInt(100);

/** A 17-digit MsgId above 2^53 (real ones are about 2.4e16), as an exact digit string. */
export function newMsgId(): string {
  msgSerial = (msgSerial + 1) % 100;
  const n = 20_000_000_000_000_000n + BigInt(randomInt(2 ** 46)) * 100n + BigInt(msgSerial);
  return n.toString();
}

/** Signs a push for the app with the sim clock's timestamp (see buildPushRequest). */
export function buildSimPush(
  ctx: ActionContext,
  appId: string,
  message: object,
  opts: PushBuildOverrides = {},
): PushRequest {
  const app = ctx.state.requireApp(appId);
  const timestamp = opts.timestamp ?? String(Math.floor(ctx.state.now() / 1000));
  return buildPushRequest(app, message, { ...opts, timestamp });
}

/** Delivers a push, counting each try in stats().push. */
export function deliverWithStats(ctx: ActionContext, push: PushRequest): Promise<PushResult> {
  return deliverPush(push, ctx.pushTimeoutMs, () => {
    ctx.state.stats.push += 1;
  });
}

/**
 * Records a customer action without delivering it: opens the reply window first (Kefu may
 * answer before the push returns), puts it on the timeline and signs the push.
 */
function compose(
  ctx: ActionContext,
  appId: string,
  openid: string,
  fields: PushMessage,
  draft: TimelineDraft,
): { item: TimelineItem; push: PushRequest | undefined; msgId: string | undefined } {
  const { state } = ctx;
  const app = state.requireApp(appId);
  const now = state.now();
  const isEvent = fields.MsgType === 'event';
  const customer = state.ensureCustomer(appId, openid);
  customer.window = applyGrant(customer.window, isEvent ? ENTER_GRANT : MESSAGE_GRANT, now);
  if (!isEvent) customer.lastExchangeAt = now;
  const msgId = isEvent ? undefined : newMsgId();
  const item = state.record(customer, { ...draft, msgId });
  const message: PushMessage = {
    ToUserName: app.originalId,
    FromUserName: openid,
    CreateTime: Math.floor(now / 1000),
    ...fields,
    ...(msgId === undefined ? {} : { MsgId: msgId }),
  };
  const push = app.pushUrl ? buildSimPush(ctx, appId, message) : undefined;
  return { item, push, msgId };
}

/** One customer action: compose, then push it with WeChat's retry rules. */
async function act(
  ctx: ActionContext,
  appId: string,
  openid: string,
  fields: PushMessage,
  draft: TimelineDraft,
): Promise<PushResult> {
  const { item, push, msgId } = compose(ctx, appId, openid, fields, draft);
  let result: PushResult = push
    ? await deliverWithStats(ctx, push)
    : { status: 0, body: '', attempts: 0, acknowledged: false, error: 'no pushUrl' };
  if (result.status === 200) result = readAnswer(ctx, appId, openid, fields, result);
  item.push = {
    status: result.status,
    attempts: result.attempts,
    acknowledged: result.acknowledged,
    ...(result.handedBack ? { handedBack: true } : {}),
  };
  return msgId === undefined ? result : { ...result, msgId };
}

/**
 * A 200 answer other than `success`: a valid `transfer_customer_service` packet for a genuine
 * customer message is accepted (§1.7 item 3) and hands the customer to WeChat's own tool; for
 * an event it is refused (§1.8: events never reach the tool); anything else is malformed.
 */
function readAnswer(
  ctx: ActionContext,
  appId: string,
  openid: string,
  fields: PushMessage,
  result: PushResult,
): PushResult {
  const app = ctx.state.requireApp(appId);
  const customer = ctx.state.ensureCustomer(appId, openid);
  const reading = readPushAnswer(app, openid, result.body);
  if (reading.kind === 'none') {
    // Answered by the developer again: the customer is no longer routed to the tool.
    delete customer.withWechatTool;
    return result;
  }
  if (reading.kind === 'malformed') return { ...result, answerError: reading.reason };
  if (fields.MsgType === 'event')
    return { ...result, answerError: 'events are never forwarded to the web tool (§1.8)' };
  customer.withWechatTool = {
    since: ctx.state.now(),
    ...(reading.kfAccount ? { kfAccount: reading.kfAccount } : {}),
  };
  ctx.state.stats.handedBack += 1;
  return { ...result, acknowledged: true, handedBack: true };
}

/**
 * A customer's text, recorded and signed for the app's pushUrl but not delivered: for callers
 * that deliver it themselves (their own retries, duplicates on several connections).
 */
export function composeText(
  ctx: ActionContext,
  appId: string,
  openid: string,
  content: string,
): ComposedPush {
  const draft: TimelineDraft = { direction: 'in', kind: 'text', text: content };
  const { push, msgId } = compose(ctx, appId, openid, { MsgType: 'text', Content: content }, draft);
  if (!push || msgId === undefined) throw new Error(`wechat-sim: app ${appId} has no pushUrl`);
  return { msgId, push };
}

export function sendText(ctx: ActionContext, appId: string, openid: string, content: string) {
  const draft: TimelineDraft = { direction: 'in', kind: 'text', text: content };
  return act(ctx, appId, openid, { MsgType: 'text', Content: content }, draft);
}

export function sendImage(
  ctx: ActionContext,
  appId: string,
  openid: string,
  bytes: Buffer,
  mime = 'image/png',
) {
  ctx.state.requireApp(appId);
  const media = ctx.state.media.put(appId, bytes, mime, ctx.state.now());
  const picUrl = `${ctx.mediaBaseUrl()}/sim/media/${media.id}`;
  const draft: TimelineDraft = {
    direction: 'in',
    kind: 'image',
    mediaId: media.id,
    image: { bytes, mime },
  };
  return act(ctx, appId, openid, { MsgType: 'image', PicUrl: picUrl, MediaId: media.id }, draft);
}

export function sendCard(ctx: ActionContext, appId: string, openid: string, card: CardInput) {
  ctx.state.requireApp(appId);
  const mime = card.thumbMime ?? 'image/png';
  const thumb = ctx.state.media.put(appId, card.thumb, mime, ctx.state.now());
  const cardAppId = card.appIdOfCard ?? appId;
  const fields: PushMessage = {
    MsgType: 'miniprogrampage',
    Title: card.title,
    AppId: cardAppId,
    PagePath: card.pagePath,
    ThumbUrl: `${ctx.mediaBaseUrl()}/sim/media/${thumb.id}`,
    ThumbMediaId: thumb.id,
  };
  const draft: TimelineDraft = {
    direction: 'in',
    kind: 'miniprogrampage',
    card: {
      title: card.title,
      pagePath: card.pagePath,
      appId: cardAppId,
      thumbMediaId: thumb.id,
      thumb: { bytes: card.thumb, mime },
    },
  };
  return act(ctx, appId, openid, fields, draft);
}

export function enterSession(
  ctx: ActionContext,
  appId: string,
  openid: string,
  sessionFrom: string,
) {
  const fields: PushMessage = {
    MsgType: 'event',
    Event: 'user_enter_tempsession',
    SessionFrom: sessionFrom,
  };
  const draft: TimelineDraft = {
    direction: 'in',
    kind: 'event',
    event: 'user_enter_tempsession',
    sessionFrom,
  };
  return act(ctx, appId, openid, fields, draft);
}
