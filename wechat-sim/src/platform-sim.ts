import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { jsonObject } from './api-guard';
import * as actions from './component-actions';
import { ComponentState, TICKET_INTERVAL_MS, type ComponentConfig } from './component-state';
import { registerComponentRoutes } from './routes-component';
import type { SimState } from './state';
import type { PushResult } from './types';

/** The Open Platform side of the emulator (third-party platforms, 第三方平台). */
export interface PlatformSim {
  /** Adds or replaces a component (AppID, secret, Token, key, the two Kefu URLs). */
  configure(cfg: ComponentConfig): ComponentConfig;
  get(componentAppId: string): ComponentConfig | undefined;
  /** Issues a new component_verify_ticket and pushes it to the event URL. */
  pushTicket(componentAppId: string): Promise<PushResult & { ticket: string }>;
  /** Pushes a ticket every `intervalMs` (WeChat: 10 minutes) until the sim closes. */
  startTickets(componentAppId: string, intervalMs?: number): void;
  /** The shop admin agrees on the authorization page (the control-call form of the page). */
  authorize(
    componentAppId: string,
    input: actions.AuthorizeInput,
  ): ReturnType<typeof actions.authorize>;
  unauthorize(componentAppId: string, authorizerAppId: string): Promise<PushResult>;
  updateAuthorized(
    componentAppId: string,
    authorizerAppId: string,
    funcInfo: number[],
  ): Promise<PushResult>;
  /** Sets the nick_name api_get_authorizer_info answers for the app. */
  setNickName(appId: string, nickName: string): void;
  /** Every authorizer token of the app answers 40001 from now on. */
  expireAuthorizerTokens(appId: string): void;
  /** Accepted custom/send calls made with an authorizer token (optionally of one app). */
  authorizerSends(
    appId?: string,
  ): { appId: string; componentAppId: string; token: string; at: number }[];
  /** Calls received per component API, e.g. `api_authorizer_token`. */
  calls(api: string): number;
  /** Whether a token string is an authorizer token the emulator issued. */
  isAuthorizerToken(token: string): boolean;
}

const authorizeSchema = z.object({
  preAuthCode: z.string().min(1),
  authorizerAppId: z.string().min(1),
  funcInfo: z.array(z.number().int()).optional(),
});
const appSchema = z.object({
  authorizerAppId: z.string().min(1),
  funcInfo: z.array(z.number().int()).optional(),
});

/** Builds the platform side, registers its routes (before the message routes: it guards sends). */
export function createPlatformSim(
  app: FastifyInstance,
  state: SimState,
  pushTimeoutMs: number,
): PlatformSim {
  const comp = new ComponentState();
  const ctx: actions.ComponentContext = { state, comp, pushTimeoutMs };
  const timers: NodeJS.Timeout[] = [];
  app.addHook('onClose', async () => timers.forEach(clearInterval));
  registerComponentRoutes(app, ctx);

  const platform: PlatformSim = {
    configure: (cfg) => actions.configureComponent(ctx, cfg),
    get: (id) => comp.configs.get(id),
    pushTicket: (id) => actions.pushTicket(ctx, id),
    startTickets(id, intervalMs = TICKET_INTERVAL_MS) {
      comp.requireConfig(id);
      timers.push(setInterval(() => void actions.pushTicket(ctx, id), intervalMs).unref());
    },
    authorize: (id, input) => actions.authorize(ctx, id, input),
    unauthorize: (id, appId) => actions.unauthorize(ctx, id, appId),
    updateAuthorized: (id, appId, funcInfo) => actions.updateAuthorized(ctx, id, appId, funcInfo),
    setNickName: (appId, nickName) => void comp.nickNames.set(appId, nickName),
    expireAuthorizerTokens: (appId) => actions.expireAuthorizerTokens(ctx, appId),
    authorizerSends: (appId) => comp.authorizerSends.filter((x) => !appId || x.appId === appId),
    isAuthorizerToken: (token) => comp.authorizerTokens.has(token),
    calls: (api) => comp.calls[api] ?? 0,
  };

  // `/sim/api/components/*`: the same over HTTP, for the page and out-of-process tests.
  const body = (req: Parameters<typeof jsonObject>[0]) => jsonObject(req) ?? {};
  const parse = <T extends z.ZodType>(schema: T, value: unknown): z.infer<T> => {
    const r = schema.safeParse(value);
    if (!r.success) throw Object.assign(new Error(z.prettifyError(r.error)), { statusCode: 400 });
    return r.data;
  };
  const known = (id: string) => {
    if (!comp.configs.has(id))
      throw Object.assign(new Error(`unknown component ${id}`), { statusCode: 404 });
    return id;
  };
  const bad = async <T>(fn: () => Promise<T>) => {
    try {
      return await fn();
    } catch (err) {
      throw Object.assign(new Error(err instanceof Error ? err.message : String(err)), {
        statusCode: 400,
      });
    }
  };
  type P = { Params: { id: string } };
  app.get('/sim/api/components', async () => [...comp.configs.values()]);
  app.post('/sim/api/components', async (req, reply) =>
    reply.code(201).send(await bad(async () => platform.configure(body(req) as ComponentConfig))),
  );
  app.post<P>('/sim/api/components/:id/ticket', async (req) =>
    platform.pushTicket(known(req.params.id)),
  );
  app.post<P>('/sim/api/components/:id/authorize', async (req) => {
    const a = parse(authorizeSchema, body(req));
    return bad(() => platform.authorize(known(req.params.id), a));
  });
  app.post<P>('/sim/api/components/:id/unauthorize', async (req) => {
    const a = parse(appSchema, body(req));
    return bad(() => platform.unauthorize(known(req.params.id), a.authorizerAppId));
  });
  app.post<P>('/sim/api/components/:id/updateauthorized', async (req) => {
    const a = parse(appSchema, body(req));
    return bad(() =>
      platform.updateAuthorized(known(req.params.id), a.authorizerAppId, a.funcInfo ?? [1]),
    );
  });
  app.get('/sim/api/components/sends', async () => ({ items: platform.authorizerSends() }));
  return platform;
}
