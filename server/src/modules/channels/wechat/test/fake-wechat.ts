/** A scriptable stand-in for api.weixin.qq.com on port 0, for the API client's tests. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WechatApiError } from '../api-errors';

export interface FakeRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The body parsed as JSON, when it is JSON. */
  json: unknown;
}

export interface FakeResponse {
  status?: number;
  json?: unknown;
  body?: Buffer | string;
  contentType?: string;
  delayMs?: number;
}

export type FakeHandler = (req: FakeRequest) => FakeResponse | Promise<FakeResponse>;

export interface FakeWechat {
  baseUrl: string;
  requests: FakeRequest[];
  /** Requests to one path. */
  to(path: string): FakeRequest[];
  close(): Promise<void>;
}

/** Starts the fake; unhandled paths answer like Fastify's default 404. */
export async function startFakeWechat(handle: FakeHandler): Promise<FakeWechat> {
  const requests: FakeRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const body = Buffer.concat(chunks);
      let json: unknown = undefined;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        json = undefined;
      }
      const recorded: FakeRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body,
        json,
      };
      requests.push(recorded);
      void Promise.resolve(handle(recorded)).then(async (answer) => {
        if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
        const payload =
          answer.json !== undefined ? JSON.stringify(answer.json) : (answer.body ?? '');
        res.writeHead(answer.status ?? 200, {
          'content-type':
            answer.contentType ?? (answer.json !== undefined ? 'application/json' : 'text/plain'),
        });
        res.end(payload);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    to: (path) => requests.filter((r) => r.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const NOT_FOUND: FakeResponse = {
  status: 404,
  json: { message: 'Route not found', error: 'Not Found', statusCode: 404 },
};

/** A token endpoint answer handing out T1, T2, … in order. */
export function tokenIssuer(expiresIn = 7200): () => FakeResponse {
  let n = 0;
  return () => ({ json: { access_token: `T${++n}`, expires_in: expiresIn } });
}

/** The WechatApiError a call fails with (anything else is rethrown; success fails the test). */
export async function caught(promise: Promise<unknown>): Promise<WechatApiError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof WechatApiError) return err;
    throw err;
  }
  throw new Error('expected a WechatApiError');
}
