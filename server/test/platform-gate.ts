import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

/** One platform call that passed the gate. */
export interface GateCall {
  method: string;
  /** Path without the query string, e.g. `/cgi-bin/message/custom/send`. */
  path: string;
}

/**
 * What the gate does with a call: `before` runs first (it may never resolve: the call is held,
 * as a platform that stalls), then the call goes to the emulator, then `after` runs with the
 * emulator's answer already recorded there (WeChat accepted) but not yet returned to Kefu.
 */
export interface GateRule {
  match: (call: GateCall) => boolean;
  before?: (call: GateCall) => Promise<void>;
  after?: (call: GateCall, status: number) => Promise<void>;
  /** Rules apply once by default; `always` keeps this one. */
  always?: boolean;
}

/** An HTTP stand-in in front of the WeChat emulator that can hold calls or act between them. */
export interface PlatformGate {
  readonly url: string;
  readonly calls: GateCall[];
  rule(rule: GateRule): void;
  close(): Promise<void>;
}

export const isSend = (c: GateCall) => c.path === '/cgi-bin/message/custom/send';
export const isToken = (c: GateCall) =>
  c.path === '/cgi-bin/stable_token' || c.path === '/cgi-bin/token';

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Starts a gate forwarding to `target` (the emulator's base URL) on a loopback port. */
export async function startGate(target: string): Promise<PlatformGate> {
  const rules: GateRule[] = [];
  const calls: GateCall[] = [];
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const call = { method: req.method ?? 'GET', path: url.split('?')[0]! };
    calls.push(call);
    const body = await bodyOf(req);
    const i = rules.findIndex((r) => r.match(call));
    const rule = i >= 0 ? rules[i] : undefined;
    if (rule && !rule.always) rules.splice(i, 1);
    await rule?.before?.(call);
    const headers: Record<string, string> = {};
    if (req.headers['content-type']) headers['content-type'] = req.headers['content-type'];
    const answer = await fetch(`${target}${url}`, {
      method: call.method,
      headers,
      ...(call.method === 'GET' || call.method === 'HEAD' ? {} : { body }),
    });
    const payload = Buffer.from(await answer.arrayBuffer());
    await rule?.after?.(call, answer.status);
    res.writeHead(answer.status, {
      'content-type': answer.headers.get('content-type') ?? 'application/json',
    });
    res.end(payload);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    rule: (r) => void rules.push(r),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
