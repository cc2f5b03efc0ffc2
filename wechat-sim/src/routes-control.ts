import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { jsonObject } from './api-guard';
import { appConfigSchema, generateAppConfig } from './app-config';
import { makeCardThumb } from './png';
import type { Sim } from './sim';
import type { SimState } from './state';
import { inboxView, timelineView } from './wire-views';

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Runs fn, turning a validation error it throws into a 400. */
function badRequestOnThrow<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, err instanceof Error ? err.message : String(err));
  }
}

function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value ?? {});
  if (!r.success) throw new HttpError(400, z.prettifyError(r.error));
  return r.data;
}

const who = { appId: z.string(), openid: z.string().min(1), nickname: z.string().optional() };
const whoSchema = z.object({ appId: z.string(), openid: z.string().min(1) });
const textSchema = z.object({ ...who, content: z.string() });
const imageSchema = z.object({ ...who, base64: z.string().min(1), mime: z.string().optional() });
const cardSchema = z.object({
  ...who,
  title: z.string(),
  pagePath: z.string(),
  thumbBase64: z.string().optional(),
  thumbMime: z.string().optional(),
  appIdOfCard: z.string().optional(),
});
const enterSchema = z.object({ ...who, sessionFrom: z.string() });
const faultSchema = z.object({
  api: z.enum(['send', 'upload', 'token', 'typing', 'media_get']),
  errcode: z.number().int(),
  errmsg: z.string().optional(),
  times: z.number().int().positive().optional(),
  httpStatus: z.number().int().min(100).max(599).optional(),
  dropConnection: z.boolean().optional(),
});

/** `/sim/api/*`: the programmatic API over HTTP for the page and out-of-process tests. */
export function registerControlRoutes(app: FastifyInstance, sim: Sim, state: SimState): void {
  const body = (req: Parameters<typeof jsonObject>[0]) => jsonObject(req) ?? {};
  const knownApp = (appId: string) => {
    if (!sim.getApp(appId)) throw new HttpError(404, `unknown appId ${appId}`);
    return appId;
  };
  const customerArgs = <T extends { appId: string; openid: string; nickname?: string }>(a: T) => {
    knownApp(a.appId);
    if (a.nickname) sim.setNickname(a.appId, a.openid, a.nickname);
    return a;
  };

  app.get('/sim/api/apps', async () => sim.listApps());
  app.post('/sim/api/apps', async (req, reply) => {
    const partial = parse(appConfigSchema.partial(), body(req));
    const cfg = badRequestOnThrow(() => generateAppConfig(partial));
    if (sim.getApp(cfg.appId)) throw new HttpError(409, `app ${cfg.appId} exists`);
    sim.addApp(cfg);
    return reply.code(201).send(cfg);
  });
  app.get<{ Params: { appId: string } }>('/sim/api/apps/:appId', async (req) =>
    sim.getApp(knownApp(req.params.appId)),
  );
  app.patch<{ Params: { appId: string } }>('/sim/api/apps/:appId', async (req) => {
    const appId = knownApp(req.params.appId);
    const partial = parse(appConfigSchema.partial(), body(req));
    return badRequestOnThrow(() => sim.updateApp(appId, partial));
  });
  app.post<{ Params: { appId: string } }>('/sim/api/apps/:appId/verify', async (req) =>
    sim.verifyPushUrl(knownApp(req.params.appId)),
  );
  app.get('/sim/api/customers', async (req) => {
    const { appId } = parse(z.object({ appId: z.string() }), req.query);
    return [...state.customers.values()]
      .filter((c) => c.appId === knownApp(appId))
      .map((c) => ({ openid: c.openid, nickname: c.nickname, window: c.window }));
  });

  app.post('/sim/api/customer/text', async (req) => {
    const a = customerArgs(parse(textSchema, body(req)));
    return sim.sendText(a.appId, a.openid, a.content);
  });
  app.post('/sim/api/customer/image', async (req) => {
    const a = customerArgs(parse(imageSchema, body(req)));
    return sim.sendImage(a.appId, a.openid, Buffer.from(a.base64, 'base64'), a.mime);
  });
  app.post('/sim/api/customer/card', async (req) => {
    const a = customerArgs(parse(cardSchema, body(req)));
    const thumb = a.thumbBase64 ? Buffer.from(a.thumbBase64, 'base64') : makeCardThumb();
    return sim.sendCard(a.appId, a.openid, {
      title: a.title,
      pagePath: a.pagePath,
      thumb,
      thumbMime: a.thumbMime,
      appIdOfCard: a.appIdOfCard,
    });
  });
  app.post('/sim/api/customer/enter', async (req) => {
    const a = customerArgs(parse(enterSchema, body(req)));
    return sim.enterSession(a.appId, a.openid, a.sessionFrom);
  });

  app.get('/sim/api/timeline', async (req) => {
    const { appId, openid } = parse(whoSchema, req.query);
    knownApp(appId);
    return {
      now: sim.now(),
      window: sim.windowState(appId, openid) ?? null,
      typing: sim.typingState(appId, openid),
      withWechatTool: sim.withWechatTool(appId, openid) ?? null,
      items: sim.customerTimeline(appId, openid).map(timelineView),
    };
  });
  app.get('/sim/api/inbox', async (req) => {
    const { appId, openid } = parse(whoSchema, req.query);
    return { items: sim.inbox(knownApp(appId), openid).map(inboxView) };
  });

  app.get('/sim/api/faults', async () => state.faults.list());
  app.post('/sim/api/faults', async (req) => {
    sim.injectFault(parse(faultSchema, body(req)));
    return state.faults.list();
  });
  app.delete('/sim/api/faults', async () => {
    sim.clearFaults();
    return [];
  });
  app.post('/sim/api/expire-tokens', async (req) => {
    const { appId } = parse(z.object({ appId: z.string() }), body(req));
    sim.expireTokens(knownApp(appId));
    return { ok: true };
  });
  app.post('/sim/api/advance-time', async (req) => {
    const { ms } = parse(z.object({ ms: z.number().int().nonnegative() }), body(req));
    return { now: sim.advanceTime(ms) };
  });
  app.get('/sim/api/clock', async () => ({ now: sim.now() }));
  app.get('/sim/api/stats', async () => sim.stats());
  app.get('/sim/api/sends', async (req) => {
    const { appId } = parse(z.object({ appId: z.string().optional() }), req.query);
    return { items: sim.sends(appId) };
  });
}
