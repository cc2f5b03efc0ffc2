import type { FastifyInstance, FastifyReply } from 'fastify';
import { answerFault, jsonObject, queryOf, sendWx } from './api-guard';
import type { SimState } from './state';
import type { TokenRecord } from './tokens';

/** 40002 / 40013 / 40001 for bad credentials, else undefined (§3.1). */
function credentialError(
  state: SimState,
  grantType: unknown,
  appId: unknown,
  secret: unknown,
): number | undefined {
  if (grantType !== 'client_credential') return 40002;
  const app = typeof appId === 'string' ? state.apps.get(appId) : undefined;
  if (!app) return 40013;
  if (secret !== app.appSecret) return 40001;
  return undefined;
}

function sendToken(reply: FastifyReply, rec: TokenRecord, now: number): FastifyReply {
  const expiresIn = Math.floor((rec.expiresAt - now) / 1000);
  return reply.send({ access_token: rec.token, expires_in: expiresIn });
}

/** GET /cgi-bin/token and POST /cgi-bin/stable_token. */
export function registerTokenRoutes(app: FastifyInstance, state: SimState): void {
  app.get('/cgi-bin/token', async (req, reply) => {
    state.stats.token += 1;
    if (answerFault(state, 'token', req, reply)) return reply;
    const q = queryOf(req);
    const err = credentialError(state, q.grant_type, q.appid, q.secret);
    if (err) return sendWx(reply, err);
    const now = state.now();
    return sendToken(reply, state.tokens.issueClassic(String(q.appid), now), now);
  });

  app.post('/cgi-bin/stable_token', async (req, reply) => {
    state.stats.stable_token += 1;
    if (answerFault(state, 'token', req, reply)) return reply;
    const body = jsonObject(req);
    if (!body) return sendWx(reply, 47001);
    const err = credentialError(state, body.grant_type, body.appid, body.secret);
    if (err) return sendWx(reply, err);
    const now = state.now();
    const force = body.force_refresh === true;
    return sendToken(reply, state.tokens.stable(String(body.appid), now, force), now);
  });
}
