import { createServer, type IncomingHttpHeaders } from 'node:http';
import { createSim, type Sim, type SimOptions } from '../src/sim';
import { makePng } from '../src/png';
import type { AppConfig } from '../src/types';

/** The app of the official worked examples (§1.2–1.5). */
export const DOC_APP: AppConfig = {
  appId: 'wxba5fad812f8e6fb9',
  appSecret: 'doc-secret',
  originalId: 'gh_97417a04a28d',
  token: 'AAAAA',
  encodingAesKey: 'A'.repeat(43),
  mode: 'safe',
  format: 'json',
};

export const OPENID = 'o9AgO5Kd5ggOC-bXrbNODIiE3bGY';

export interface Received {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the receiver does with the n-th request (1-based): answer, or never answer. */
export type Responder = (
  req: Received,
  n: number,
) => { status?: number; body?: string } | 'hang' | Promise<{ status?: number; body?: string }>;

/** A tiny HTTP push receiver on 127.0.0.1:0 that records every request. */
export async function startReceiver(responder: Responder = () => ({ body: 'success' })) {
  const received: Received[] = [];
  let respond = responder;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const rec: Received = {
        method: req.method ?? '',
        path: u.pathname,
        query: Object.fromEntries(u.searchParams),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(rec);
      void Promise.resolve(respond(rec, received.length)).then((r) => {
        if (r === 'hang') return;
        res.writeHead(r.status ?? 200, { 'content-type': 'text/plain' });
        res.end(r.body ?? 'success');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/wechat/push`,
    received,
    setResponder(r: Responder) {
      respond = r;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A small valid PNG. */
export function tinyPng(size = 4): Buffer {
  return makePng(size, size, (x, y) => [x * 40, y * 40, 128]);
}

/** A sim on a fixed, controllable clock with the doc app added. */
export async function simWith(app: Partial<AppConfig> = {}, opts: SimOptions = {}) {
  let clock = Date.UTC(2024, 3, 26, 8, 0, 0);
  const sim: Sim = await createSim({ now: () => clock, ...opts });
  sim.addApp({ ...DOC_APP, ...app });
  return {
    sim,
    tick: (ms: number) => {
      clock += ms;
    },
  };
}

/** A fresh classic token for the app, fetched through the API. */
export async function classicToken(sim: Sim, appId = DOC_APP.appId, secret = DOC_APP.appSecret) {
  const res = await sim.app.inject({
    method: 'GET',
    url: `/cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=${secret}`,
  });
  return res.json<{ access_token: string }>().access_token;
}

/** POST a JSON body to a platform API with the token and return the parsed JSON answer. */
export async function callApi(sim: Sim, path: string, token: string, body: unknown) {
  const res = await sim.app.inject({
    method: 'POST',
    url: `${path}?access_token=${encodeURIComponent(token)}`,
    headers: { 'content-type': 'application/json' },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return res.json<{ errcode: number; errmsg: string }>();
}
