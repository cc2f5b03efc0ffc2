import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import { jsonObject, requireToken, sendWx } from './api-guard';
import type { SimState } from './state';

/**
 * WeChat's text content check, `POST /wxa/msg_sec_check` (安全校验 msgSecCheck). Version 2
 * answers errcode 0 with `result.suggest` (pass | review | risky) and a `detail` list per
 * strategy; version 1 (legacy) answers 87014 for risky content. Version 2 also needs an openid
 * that used the mini program within the last 2 hours (61010 otherwise). What is risky or
 * doubtful is set per app with a word list (`setContentRules`), so tests can choose.
 */

/** WeChat's labels: 100 normal, 10001 ads, 20001 politics, 20002 porn, 20003 abuse, 20006 illegal. */
export const LABEL_NORMAL = 100;
export const LABEL_ILLEGAL = 20006;
export const LABEL_OTHER = 21000;
/** v2 checks only customers seen within this long (61010 otherwise). */
export const SEC_CHECK_RECENT_MS = 2 * 3600_000;
/** WeChat's limit on `content`; longer texts are refused (47001 here; UNCONFIRMED code). */
export const SEC_CHECK_MAX_CHARS = 2500;

export interface ContentRules {
  /** Texts containing one of these are `risky` (label `riskyLabel`, default 20006). */
  risky?: string[];
  /** Texts containing one of these (and nothing risky) are `review` (label 21000). */
  review?: string[];
  riskyLabel?: number;
}

export interface SecurityCall {
  appId: string;
  openid: string;
  content: string;
  version: number;
  suggest: 'pass' | 'review' | 'risky' | null;
  errcode: number;
}

/** A scripted failure of the next calls: an errcode, or a dropped connection. */
export interface SecurityFault {
  errcode?: number;
  dropConnection?: boolean;
  times?: number;
}

export interface SecurityControl {
  setContentRules(appId: string, rules: ContentRules): void;
  failNext(fault: SecurityFault): void;
  clearFaults(): void;
  /** Every msg_sec_check call seen (optionally of one app), oldest first. */
  calls(appId?: string): SecurityCall[];
}

const ERRMSG: Record<number, string> = {
  40003: 'invalid openid',
  40097: 'invalid args',
  44004: 'empty content',
  47001: 'data format error',
  61010: 'user access record expired',
  87014: 'risky content',
};

function hit(text: string, words: string[] | undefined): string | undefined {
  return words?.find((w) => w !== '' && text.includes(w));
}

/** Registers the route and returns its control; state lives beside the rest of the sim's. */
export function registerSecurityRoutes(app: FastifyInstance, state: SimState): SecurityControl {
  const rules = new Map<string, ContentRules>();
  const faults: SecurityFault[] = [];
  const calls: SecurityCall[] = [];

  app.post('/wxa/msg_sec_check', async (req, reply) => {
    const fault = faults[0];
    if (fault) {
      if ((fault.times ?? 1) <= 1) faults.shift();
      else fault.times = (fault.times ?? 1) - 1;
      if (fault.dropConnection) {
        reply.hijack();
        req.raw.socket.destroy();
        return reply;
      }
      return sendWx(reply, fault.errcode ?? -1);
    }
    const appId = requireToken(state, req, reply);
    if (appId === undefined) return reply;
    const body = jsonObject(req);
    const record = (c: Omit<SecurityCall, 'appId'>) => calls.push({ appId, ...c });
    const content = typeof body?.content === 'string' ? body.content : undefined;
    const version = body?.version === undefined ? 1 : Number(body.version);
    const openid = typeof body?.openid === 'string' ? body.openid : '';
    const fail = (errcode: number) => {
      record({ openid, content: content ?? '', version, suggest: null, errcode });
      return sendWx(reply, errcode, ERRMSG[errcode]);
    };
    if (!body) return fail(47001);
    if (!content) return fail(44004);
    if (content.length > SEC_CHECK_MAX_CHARS) return fail(47001);
    const cfg = rules.get(appId) ?? {};
    const risky = hit(content, cfg.risky);
    const review = risky ? undefined : hit(content, cfg.review);
    if (version !== 2) {
      if (version !== 1) return fail(40097);
      record({ openid, content, version, suggest: risky ? 'risky' : 'pass', errcode: 0 });
      return risky ? sendWx(reply, 87014, ERRMSG[87014]) : sendWx(reply, 0, 'ok');
    }
    const scene = Number(body.scene);
    if (![1, 2, 3, 4].includes(scene)) return fail(40097);
    const customer = state.findCustomer(appId, openid);
    if (!customer) return fail(40003);
    const lastIn = customer.timeline.filter((t) => t.direction === 'in').at(-1)?.at ?? -Infinity;
    if (state.now() - lastIn > SEC_CHECK_RECENT_MS) return fail(61010);
    const suggest = risky ? 'risky' : review ? 'review' : 'pass';
    const label = risky ? (cfg.riskyLabel ?? LABEL_ILLEGAL) : review ? LABEL_OTHER : LABEL_NORMAL;
    record({ openid, content, version, suggest, errcode: 0 });
    return reply.code(200).send({
      errcode: 0,
      errmsg: 'ok',
      result: { suggest, label },
      detail: [
        {
          strategy: 'content_model',
          errcode: 0,
          suggest,
          label,
          prob: suggest === 'pass' ? 0 : 90,
        },
        {
          strategy: 'keyword',
          errcode: 0,
          suggest: risky || review ? suggest : 'pass',
          label,
          ...(risky || review ? { level: 20, keyword: risky ?? review } : {}),
        },
      ],
      trace_id: randomBytes(12).toString('hex'),
    });
  });

  // Control routes, for demos and tests in other processes (same shapes as the methods).
  app.put<{ Params: { appId: string } }>('/sim/api/apps/:appId/content-rules', async (req) => {
    const b = jsonObject(req) ?? {};
    const words = (v: unknown) =>
      Array.isArray(v) ? v.filter((w): w is string => typeof w === 'string') : [];
    const next: ContentRules = { risky: words(b.risky), review: words(b.review) };
    if (typeof b.riskyLabel === 'number') next.riskyLabel = b.riskyLabel;
    rules.set(req.params.appId, next);
    return next;
  });
  app.post('/sim/api/security-faults', async (req) => {
    const b = jsonObject(req) ?? {};
    faults.push({
      ...(typeof b.errcode === 'number' ? { errcode: b.errcode } : {}),
      ...(b.dropConnection === true ? { dropConnection: true } : {}),
      ...(typeof b.times === 'number' ? { times: b.times } : {}),
    });
    return { queued: faults.length };
  });
  app.get('/sim/api/security-calls', async () => calls);

  return {
    setContentRules: (appId, r) => void rules.set(appId, { ...r }),
    failNext: (fault) => void faults.push({ ...fault }),
    clearFaults: () => void faults.splice(0),
    calls: (appId) => calls.filter((c) => appId === undefined || c.appId === appId),
  };
}
