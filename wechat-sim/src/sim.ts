import Fastify, { type FastifyInstance } from 'fastify';
import { parseAppConfig } from './app-config';
import { exportState, importState } from './persist';
import { randomNonce, sha1Signature } from './crypto';
import * as actions from './customer-actions';
import { customerPageHtml } from './page';
import type { PushBuildOverrides } from './push-build';
import { registerControlRoutes } from './routes-control';
import { registerMediaRoutes } from './routes-media';
import { registerMessageRoutes } from './routes-message';
import { registerTokenRoutes } from './routes-token';
import { createPlatformSim, type PlatformSim } from './platform-sim';
import { registerSecurityRoutes, type SecurityControl } from './routes-security';
import { SimState } from './state';
import type {
  AppConfig,
  ComposedPush,
  FaultSpec,
  InboxItem,
  OutboundKind,
  PushRequest,
  PushResult,
  SendRecord,
  SimStats,
  TimelineItem,
  TypingState,
  WindowState,
} from './types';

export interface SimOptions {
  /** Base clock in ms; advanceTime adds to it. Default Date.now. */
  now?: () => number;
  logger?: boolean;
  /** How long a push try waits for an answer before retrying (WeChat: 5000). */
  pushTimeoutMs?: number;
  /** Base of the PicUrl/ThumbUrl the sim pushes; default the listen URL. */
  publicUrl?: string;
}

export type CardInput = actions.CardInput;

export interface Sim {
  readonly app: FastifyInstance;
  /** Base URL once listening, e.g. `http://127.0.0.1:43123`. */
  readonly url: string | undefined;
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
  addApp(cfg: AppConfig): void;
  updateApp(appId: string, partial: Partial<AppConfig>): AppConfig;
  getApp(appId: string): AppConfig | undefined;
  listApps(): AppConfig[];
  sendText(appId: string, openid: string, content: string): Promise<PushResult>;
  /** Records and signs a customer text like sendText but leaves delivering it to the caller. */
  composeText(appId: string, openid: string, content: string): ComposedPush;
  sendImage(appId: string, openid: string, bytes: Buffer, mime?: string): Promise<PushResult>;
  sendCard(appId: string, openid: string, card: CardInput): Promise<PushResult>;
  enterSession(appId: string, openid: string, sessionFrom: string): Promise<PushResult>;
  buildPush(appId: string, message: object, opts?: PushBuildOverrides): PushRequest;
  /** POSTs a (possibly tampered) push with WeChat's timeout/retry rules. */
  deliver(push: PushRequest): Promise<PushResult>;
  /** WeChat's URL check: GET pushUrl with signature/timestamp/nonce/echostr. */
  verifyPushUrl(appId: string): Promise<UrlCheck>;
  setNickname(appId: string, openid: string, nickname: string): void;
  windowState(appId: string, openid: string): WindowState | undefined;
  /** Since when the customer is with WeChat's own tool (a transfer answer), if they are. */
  withWechatTool(appId: string, openid: string): { since: number; kfAccount?: string } | undefined;
  inbox(appId: string, openid: string): InboxItem[];
  customerTimeline(appId: string, openid: string): TimelineItem[];
  typingState(appId: string, openid: string): TypingState;
  injectFault(fault: FaultSpec): void;
  clearFaults(): void;
  expireTokens(appId: string): void;
  now(): number;
  advanceTime(ms: number): number;
  stats(): SimStats;
  /** Every custom/send call accepted so far (optionally of one app), oldest first. */
  sends(appId?: string): SendRecord[];
  /** The Open Platform side: third-party platforms (components) and their authorizations. */
  readonly platform: PlatformSim;
  /** The customers and their chats as JSON (persist.ts), for a restart to keep. */
  exportState(): string;
  /** Restores exportState's JSON; returns how many customers came back. */
  importState(json: string): number;
  /** msg_sec_check: word lists per app, scripted failures, the calls seen. */
  readonly security: SecurityControl;
}

export interface UrlCheck {
  ok: boolean;
  status: number;
  body: string;
  error?: string;
}

/** Builds the emulator (a Fastify app, not listening yet) with empty state. */
export async function createSim(opts: SimOptions = {}): Promise<Sim> {
  const state = new SimState(opts.now);
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: 32 * 1024 * 1024 });
  // Every body is kept raw: WeChat answers bad JSON with 47001, not a 400, and uploads are
  // multipart that we split ourselves.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  let url: string | undefined;
  const ctx: actions.ActionContext = {
    state,
    pushTimeoutMs: opts.pushTimeoutMs ?? 5000,
    mediaBaseUrl: () => opts.publicUrl ?? url ?? 'http://127.0.0.1',
  };

  const customer = (appId: string, openid: string) => state.findCustomer(appId, openid);
  // Registered first: its hook guards custom/send (a granted permission needs the platform's token).
  const platform = createPlatformSim(app, state, ctx.pushTimeoutMs);
  const security = registerSecurityRoutes(app, state);
  const sim: Sim = {
    platform,
    app,
    get url() {
      return url;
    },
    async listen(port = 0, host = '127.0.0.1') {
      await app.listen({ port, host });
      const addr = app.server.address();
      const actual = typeof addr === 'object' && addr ? addr.port : port;
      url = `http://${host.includes(':') ? `[${host}]` : host}:${actual}`;
      return url;
    },
    async close() {
      await app.close();
    },
    addApp(cfg) {
      const parsed = parseAppConfig(cfg);
      if (state.apps.has(parsed.appId)) throw new Error(`wechat-sim: app ${parsed.appId} exists`);
      state.apps.set(parsed.appId, parsed);
    },
    updateApp(appId, partial) {
      const next = parseAppConfig({ ...state.requireApp(appId), ...partial, appId });
      state.apps.set(appId, next);
      return next;
    },
    getApp: (appId) => state.apps.get(appId),
    listApps: () => [...state.apps.values()],
    sendText: (appId, openid, content) => actions.sendText(ctx, appId, openid, content),
    composeText: (appId, openid, content) => actions.composeText(ctx, appId, openid, content),
    sendImage: (appId, openid, bytes, mime) => actions.sendImage(ctx, appId, openid, bytes, mime),
    sendCard: (appId, openid, card) => actions.sendCard(ctx, appId, openid, card),
    enterSession: (appId, openid, from) => actions.enterSession(ctx, appId, openid, from),
    buildPush: (appId, message, o) => actions.buildSimPush(ctx, appId, message, o),
    deliver: (push) => actions.deliverWithStats(ctx, push),
    async verifyPushUrl(appId) {
      const cfg = state.requireApp(appId);
      if (!cfg.pushUrl) return { ok: false, status: 0, body: '' };
      const timestamp = String(Math.floor(state.now() / 1000));
      const nonce = randomNonce();
      const echostr = `${randomNonce()}${randomNonce()}`;
      const signature = sha1Signature(cfg.token, timestamp, nonce);
      const q = new URLSearchParams({ signature, timestamp, nonce, echostr });
      const sep = cfg.pushUrl.includes('?') ? '&' : '?';
      try {
        const res = await fetch(`${cfg.pushUrl}${sep}${q.toString()}`, {
          signal: AbortSignal.timeout(ctx.pushTimeoutMs),
        });
        const body = await res.text();
        return { ok: res.status === 200 && body === echostr, status: res.status, body };
      } catch (err) {
        return { ok: false, status: 0, body: '', error: String(err) };
      }
    },
    setNickname(appId, openid, nickname) {
      state.requireApp(appId);
      state.ensureCustomer(appId, openid).nickname = nickname;
    },
    exportState: () => exportState(state),
    importState: (json) => importState(state, json),
    withWechatTool(appId, openid) {
      return customer(appId, openid)?.withWechatTool;
    },
    windowState(appId, openid) {
      const w = customer(appId, openid)?.window;
      return w ? { ...w } : undefined;
    },
    inbox: (appId, openid) => inboxOf(customer(appId, openid)?.timeline ?? []),
    customerTimeline: (appId, openid) => [...(customer(appId, openid)?.timeline ?? [])],
    typingState(appId, openid) {
      const until = customer(appId, openid)?.typingUntil;
      return until !== undefined && state.now() < until
        ? { typing: true, until }
        : { typing: false };
    },
    injectFault: (fault) => state.faults.add(fault),
    clearFaults: () => state.faults.clear(),
    expireTokens: (appId) => state.tokens.revokeAll(appId),
    now: () => state.now(),
    advanceTime: (ms) => state.advance(ms),
    stats: () => ({ ...state.stats }),
    sends: (appId) => state.sends.filter((s) => appId === undefined || s.appId === appId),
    security,
  };

  registerTokenRoutes(app, state);
  registerMessageRoutes(app, state);
  registerMediaRoutes(app, state);
  registerControlRoutes(app, sim, state);
  const page = customerPageHtml();
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(page));
  return sim;
}

/** What the customer received: the outbound entries, each one of the four send kinds. */
function inboxOf(timeline: TimelineItem[]): InboxItem[] {
  return timeline
    .filter(
      (i): i is TimelineItem & { kind: OutboundKind } =>
        i.direction === 'out' && i.kind !== 'event',
    )
    .map(({ kind, text, mediaId, image, card, link, at }) => ({
      msgtype: kind,
      text,
      mediaId,
      image,
      card,
      link,
      at,
    }));
}
