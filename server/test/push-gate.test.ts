import { ERROR_CODES } from '@kefu/shared';
import type http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { buildApp } from '../src/app';
import { listenKefu, reusePortAvailable } from '../src/http/listen';
import { PushGate } from '../src/http/push-gate';
import { startStack, testConfig, waitFor, type Stack } from './harness';
import { customerTexts, storedRows, textFields } from './push-helpers';
import { holdLock } from './sqlite-locker';

/**
 * The overload gate in front of Fastify (http/push-gate.ts): a push that would wait past
 * `pushMaxWaitMs` is answered 503 from the HTTP server's own request listener, before routing.
 * Here the writer is stalled for real: another process holds SQLite's write lock.
 */
describe('push gate', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack('sqlite', {
      mode: 'plaintext',
      format: 'xml',
      config: { pushMaxWaitMs: 1500 },
    });
  });
  afterAll(async () => {
    await s?.close();
  });

  const push = async (openid: string, text: string) => {
    const p = s.sim.buildPush(s.channel.appId, textFields(s, openid, text));
    const res = await fetch(p.url, {
      method: 'POST',
      headers: { 'content-type': p.contentType },
      body: p.body,
    });
    return { openid, push: p, status: res.status, headers: res.headers, body: await res.text() };
  };

  it('refuses before routing while the writer is stalled, and stores each retry once', async () => {
    // Warm up: on a loaded machine even this one may meet a stall and be refused; WeChat retries.
    await waitFor(async () => (await push('o-gate-0', '之前')).body === 'success');
    const lock = await holdLock(path.join(s.app.kefu.ctx.config.dataDir, 'kefu.db'));
    onTestFinished(() => void lock.child.kill());
    // The first push after the lock is taken by the writer, which now waits on the lock …
    const stuck = push('o-gate-stuck', '卡住');
    // … and once its wait passes the bound, the next pushes are refused at the gate.
    let refused: Awaited<ReturnType<typeof push>> | undefined;
    for (let i = 0; !refused && i < 100; i++) {
      const r = await push(`o-gate-${i + 1}`, `被拒 ${i + 1}`);
      if (r.status === 503) refused = r;
      else await new Promise((res) => setTimeout(res, 100));
    }
    expect(refused).toBeDefined();
    expect(refused!.headers.get('retry-after')).toBe('1');
    expect(JSON.parse(refused!.body)).toMatchObject({ code: 'PUSH_OVERLOADED' });
    await lock.release();
    // The stalled push was dropped at its deadline (503) or committed after the lock: either way
    // its answer says which, and WeChat's retry of a refused push lands once.
    const first = await stuck;
    // WeChat retries until it is answered `success` (the writer may still be backing off).
    for (const r of [first, refused!]) {
      if (r.body === 'success') continue;
      await waitFor(async () => {
        const again = await fetch(r.push.url, {
          method: 'POST',
          headers: { 'content-type': r.push.contentType },
          body: r.push.body,
        });
        return (await again.text()) === 'success';
      });
    }
    await waitFor(async () => (await customerTexts(s, 'o-gate-stuck')).length === 1);
    await waitFor(async () => (await customerTexts(s, refused!.openid)).length === 1);
    // Nothing refused was stored behind its answer, nothing twice.
    await new Promise((res) => setTimeout(res, 300));
    const stored = (await storedRows(s)).messages;
    expect(await customerTexts(s, refused!.openid)).toHaveLength(1);
    expect(await customerTexts(s, 'o-gate-stuck')).toHaveLength(1);
    expect(stored).toBeGreaterThanOrEqual(3);
  });
});

describe('PushGate in front of Fastify', () => {
  it('answers an overloaded push itself and passes everything else on', async () => {
    let wait = 0;
    const gate = new PushGate(1000);
    const warnings: unknown[] = [];
    gate.attach({ expectedWaitMs: () => wait }, { warn: (o: unknown) => warnings.push(o) });
    onTestFinished(() => gate.close());
    const seen: string[] = [];
    const server: http.Server = gate.factory((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.end('from fastify');
    }, {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => void server.close());
    const base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const post = (p: string) => fetch(base + p, { method: 'POST', body: '<xml/>' });

    expect(await (await post('/wechat/c1')).text()).toBe('from fastify');
    wait = 5000;
    const refused = await post('/wechat/c1?signature=x');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await refused.json()).toEqual({
      code: 'PUSH_OVERLOADED',
      message: ERROR_CODES.PUSH_OVERLOADED.message,
      details: { expectedWaitMs: 5000 },
    });
    // Only pushes are shed: the URL check, the API and the console go on.
    expect(await (await fetch(`${base}/wechat/c1?echostr=1`)).text()).toBe('from fastify');
    expect(await (await post('/api/auth/login')).text()).toBe('from fastify');
    expect(seen).toEqual(['POST /wechat/c1', 'GET /wechat/c1?echostr=1', 'POST /api/auth/login']);
    // Refusals are summarized, not logged one by one.
    expect(warnings).toEqual([]);
    gate.close();
    expect(warnings).toEqual([
      expect.objectContaining({ code: 'PUSH_OVERLOADED', refused: 1, worstExpectedWaitMs: 5000 }),
    ]);
  });
});

describe('hostile clients at the gate and the extra listening sockets', () => {
  it('garbage, half-sent bodies and hang-ups on any listening socket leave the server answering', async () => {
    const { config, cleanup } = testConfig('sqlite', { pushMaxWaitMs: 100 });
    const app = await buildApp(config, { logger: false, workers: false });
    onTestFinished(cleanup);
    onTestFinished(() => app.close());
    const url = await listenKefu(app, { port: 0, host: '127.0.0.1' });
    const { port } = new URL(url);
    const raw = (bytes: string, end: boolean) =>
      new Promise<void>((resolve) => {
        const sock = net.connect(Number(port), '127.0.0.1', () => {
          sock.write(bytes);
          if (end) sock.end();
          else setTimeout(() => sock.destroy(), 50);
        });
        sock.on('error', () => resolve());
        sock.on('close', () => resolve());
        sock.resume();
      });
    // Fresh connections land on any of the listening sockets; each kind many times over.
    await Promise.all(
      Array.from(
        { length: 40 },
        (_, i) =>
          [
            raw('\x00\xff garbage \r\n\r\n', true),
            raw(
              `POST /wechat/${'x'.repeat(i * 50)} HTTP/1.1\r\nHost: a\r\nContent-Length: 99999\r\n\r\n<xml>`,
              false,
            ),
            raw(
              'POST /wechat/c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
              true,
            ),
            raw('GET /wechat/c?echostr=' + '%'.repeat(300) + ' HTTP/1.1\r\nHost: a\r\n\r\n', true),
          ][i % 4]!,
      ),
    );
    const health = await fetch(`${url}/api/health`);
    expect(((await health.json()) as { ok?: boolean }).ok).toBe(true);
  });
});

describe('listenKefu', () => {
  it('accepts a burst of connections on every listening socket and frees the port on close', async () => {
    const { config, cleanup } = testConfig('sqlite');
    const app = await buildApp(config, { logger: false, workers: false });
    onTestFinished(cleanup);
    const url = await listenKefu(app, { port: 0, host: '127.0.0.1' });
    expect(app.kefu.acceptors).toHaveLength(reusePortAvailable() ? 31 : 0);
    // Each connection is its own client: all of them are answered, whichever socket took it.
    const answers = await Promise.all(
      Array.from({ length: 200 }, () =>
        fetch(`${url}/api/health`, { headers: { connection: 'close' } }).then(
          (r) => r.json() as Promise<{ ok?: boolean }>,
        ),
      ),
    );
    expect(answers.every((a) => a.ok === true)).toBe(true);
    const { port } = new URL(url);
    await app.close();
    // Nothing listens any more: a plain listen on the same port succeeds.
    const probe = net.createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(Number(port), '127.0.0.1', () => resolve());
    });
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });
});
