import { createECDH, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';

/** How the fake robot answers: WeCom's ok, an errcode, or never. */
export type RobotMode = 'ok' | 'errcode' | 'hang';

/** A text the fake robot received, as WeCom would see it. */
export interface RobotCall {
  path: string;
  key: string;
  body: {
    msgtype: string;
    text: { content: string; mentioned_list?: string[]; mentioned_mobile_list?: string[] };
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/**
 * A local stand-in for WeCom's group-robot webhook (qyapi.weixin.qq.com): it records each POST to
 * /cgi-bin/webhook/send and answers like WeCom ({errcode:0} or an error code), or hangs.
 */
export async function startRobotFake(): Promise<{
  origin: string;
  calls: RobotCall[];
  setMode(mode: RobotMode, errcode?: number): void;
  close(): Promise<void>;
}> {
  const calls: RobotCall[] = [];
  let mode: RobotMode = 'ok';
  let code = 93000;
  const server: Server = createServer((req, res) => {
    void readBody(req).then((text) => {
      const url = new URL(req.url ?? '/', 'http://fake');
      calls.push({
        path: url.pathname,
        key: url.searchParams.get('key') ?? '',
        body: JSON.parse(text || '{}') as RobotCall['body'],
      });
      if (mode === 'hang') return;
      const answer =
        mode === 'ok'
          ? { errcode: 0, errmsg: 'ok' }
          : { errcode: code, errmsg: 'invalid webhook url' };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const origin = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return {
    origin,
    calls,
    setMode(m, errcode) {
      mode = m;
      if (errcode !== undefined) code = errcode;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A stand-in for a browser vendor's push service: records which endpoint path each push hit. */
export async function startPushService(): Promise<{
  origin: string;
  received: { path: string; headers: Record<string, unknown> }[];
  close(): Promise<void>;
}> {
  const received: { path: string; headers: Record<string, unknown> }[] = [];
  const server = createServer((req, res) => {
    void readBody(req).then(() => {
      received.push({ path: req.url ?? '', headers: req.headers });
      res.writeHead(201).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const origin = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return {
    origin,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Browser-like subscription keys (a P-256 public key and an auth secret). */
export function subscriptionKeys(): { p256dh: string; auth: string } {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return {
    p256dh: ecdh.getPublicKey().toString('base64url'),
    auth: randomBytes(16).toString('base64url'),
  };
}
