import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { guardApi, jsonObject, sendWx } from './api-guard';
import { isWindowOpen } from './reply-window';
import type { Customer, SimState, TimelineDraft } from './state';

/** Text limit for custom/send; the real threshold is unconfirmed (§3.6), 2048 bytes is ours. */
export const TEXT_MAX_BYTES = 2048;
/** Typing needs a message exchanged within 30 s and lasts 15 s (§3.4). */
export const TYPING_EXCHANGE_MS = 30_000;
export const TYPING_TTL_MS = 15_000;

type Outcome = { errcode: number } | { draft: TimelineDraft };

function obj(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Validates a custom/send body (§3.2) into the timeline entry it will become. */
function parseOutbound(
  state: SimState,
  appId: string,
  body: Record<string, unknown>,
  now: number,
): Outcome {
  const liveMedia = (id: string | undefined) =>
    id === undefined ? undefined : state.media.live(appId, id, now);
  switch (body.msgtype) {
    case 'text': {
      const content = str(obj(body.text)?.content);
      if (!content) return { errcode: 44004 };
      if (Buffer.byteLength(content, 'utf8') > TEXT_MAX_BYTES) return { errcode: 45002 };
      return { draft: { direction: 'out', kind: 'text', text: content } };
    }
    case 'image': {
      const media = liveMedia(str(obj(body.image)?.media_id));
      if (!media) return { errcode: 40007 };
      const image = { bytes: media.bytes, mime: media.mime };
      return { draft: { direction: 'out', kind: 'image', mediaId: media.id, image } };
    }
    case 'miniprogrampage': {
      const page = obj(body.miniprogrampage);
      const title = str(page?.title);
      const pagePath = str(page?.pagepath);
      if (title === undefined || pagePath === undefined) return { errcode: 47001 };
      const thumb = liveMedia(str(page?.thumb_media_id));
      if (!thumb) return { errcode: 40007 };
      const card = {
        title,
        pagePath,
        appId: str(page?.appid),
        thumbMediaId: thumb.id,
        thumb: { bytes: thumb.bytes, mime: thumb.mime },
      };
      return { draft: { direction: 'out', kind: 'miniprogrampage', card } };
    }
    case 'link': {
      const link = obj(body.link);
      const title = str(link?.title);
      const url = str(link?.url);
      if (!title || !url) return { errcode: 47001 };
      const description = str(link?.description) ?? '';
      const thumbUrl = str(link?.thumb_url) ?? '';
      return {
        draft: { direction: 'out', kind: 'link', link: { title, description, url, thumbUrl } },
      };
    }
    default:
      return { errcode: 40008 };
  }
}

/** The addressed customer if known to the platform: one that has written or entered (40003). */
function customerOf(state: SimState, appId: string, touser: unknown): Customer | undefined {
  const customer = typeof touser === 'string' ? state.findCustomer(appId, touser) : undefined;
  return customer?.window ? customer : undefined;
}

/** POST custom/send and the typing endpoints (both paths, §3.4). */
export function registerMessageRoutes(app: FastifyInstance, state: SimState): void {
  app.post('/cgi-bin/message/custom/send', async (req, reply) => {
    const appId = guardApi(state, 'send', req, reply);
    if (appId === undefined) return reply;
    const body = jsonObject(req);
    if (!body) return sendWx(reply, 47001);
    const customer = customerOf(state, appId, body.touser);
    if (!customer) return sendWx(reply, 40003);
    const now = state.now();
    const outcome = parseOutbound(state, appId, body, now);
    if ('errcode' in outcome) return sendWx(reply, outcome.errcode);
    const window = customer.window;
    if (!isWindowOpen(window, now)) return sendWx(reply, 45015);
    if (window.quota <= 0) return sendWx(reply, 45047);
    window.quota -= 1;
    customer.lastExchangeAt = now;
    customer.typingUntil = undefined; // a message cancels typing
    state.record(customer, outcome.draft);
    const { kind, text } = outcome.draft;
    if (kind !== 'event')
      state.recordSend({ appId, touser: customer.openid, msgtype: kind, text, body });
    return sendWx(reply, 0, 'ok');
  });

  const typing = async (req: FastifyRequest, reply: FastifyReply) => {
    const appId = guardApi(state, 'typing', req, reply);
    if (appId === undefined) return reply;
    const body = jsonObject(req);
    if (!body) return sendWx(reply, 47001);
    const customer = customerOf(state, appId, body.touser);
    if (!customer) return sendWx(reply, 40003);
    const now = state.now();
    if (body.command === 'CancelTyping') {
      customer.typingUntil = undefined;
      return sendWx(reply, 0, 'ok');
    }
    if (body.command !== 'Typing') return sendWx(reply, 45072);
    if (!isWindowOpen(customer.window, now)) return sendWx(reply, 45015);
    const last = customer.lastExchangeAt;
    if (last === undefined || now - last > TYPING_EXCHANGE_MS) return sendWx(reply, 45080);
    if (customer.typingUntil !== undefined && now < customer.typingUntil) {
      return sendWx(reply, 45081);
    }
    customer.typingUntil = now + TYPING_TTL_MS;
    return sendWx(reply, 0, 'ok');
  };
  app.post('/cgi-bin/message/custom/typing', typing);
  app.post('/cgi-bin/message/custom/business/typing', typing);
}
