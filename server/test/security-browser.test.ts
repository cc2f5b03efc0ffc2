import WebSocket from 'ws';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app';
import { ApiClient } from './api-client';
import { DIALECTS, startStack, testConfig, waitFor, type Stack } from './harness';
import { startScript } from './kefu-process';

const EVIL = 'http://evil.example';

/** A tiny console build, so header checks do not depend on `npm run build:web` having run. */
function fakeWebDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kefu-web-'));
  mkdirSync(path.join(dir, 'assets'));
  writeFileSync(
    path.join(dir, 'index.html'),
    '<!doctype html><script type="module" src="/assets/app.js"></script>',
  );
  writeFileSync(path.join(dir, 'assets/app.js'), 'console.log(1);\n');
  return dir;
}

describe.each(DIALECTS)('cookie sessions and CSRF (%s)', (dialect) => {
  let s: Stack;
  let webDir: string;
  beforeAll(async () => {
    webDir = fakeWebDir();
    s = await startStack(dialect, { config: { trustProxy: true, webDir } });
  });
  afterAll(async () => {
    await s?.close();
    rmSync(webDir, { recursive: true, force: true });
  });

  /** Signs in like the console; returns the cookie pair, the token and the Set-Cookie header. */
  async function cookieSession(headers: Record<string, string> = {}) {
    const login = `cookie-${Math.random().toString(36).slice(2, 8)}`;
    await s.owner.post('/api/agents', {
      login,
      displayName: 'Cookie',
      password: 'agent-pass-1',
      channelIds: [s.channel.id],
    });
    const res = await fetch(`${s.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: s.url, ...headers },
      body: JSON.stringify({ login, password: 'agent-pass-1' }),
    });
    expect(res.status).toBe(200);
    const setCookie = res.headers.get('set-cookie') ?? '';
    const { token } = (await res.json()) as { token: string };
    return { cookie: setCookie.split(';')[0]!, token, setCookie };
  }

  async function queued(openid: string): Promise<string> {
    await s.sim.sendText(s.channel.appId, openid, '你好');
    const conv = await waitFor(async () =>
      (await s.owner.get('/api/conversations?state=queued')).items.find(
        (c: { customer: { openid: string } }) => c.customer.openid === openid,
      ),
    );
    return conv.id as string;
  }

  const stateOf = async (id: string) => (await s.owner.get(`/api/conversations/${id}`)).state;

  it('answers a malformed session cookie with 401, on REST and on the WebSocket', async () => {
    const cookie = 'kefu_session=%E0%A4%A';
    const res = await fetch(`${s.url}/api/me`, { headers: { cookie } });
    expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([
      401,
      'AUTH_REQUIRED',
    ]);
    const ws = new WebSocket(`${s.url.replace(/^http/, 'ws')}/api/ws`, {
      headers: { cookie, origin: s.url },
    });
    const status = await new Promise<number>((resolve) =>
      ws.once('unexpected-response', (_req, r) => resolve(r.statusCode ?? 0)),
    );
    expect(status).toBe(401);
  });

  it('refuses cookie state changes from another origin, keeps the console and Bearer working', async () => {
    const { cookie, token } = await cookieSession();
    const convId = await queued('o-csrf');
    const accept = `${s.url}/api/conversations/${convId}/accept`;
    const port = Number(new URL(s.url).port);
    const forged: Record<string, string>[] = [
      // A classic form POST from another site.
      { origin: EVIL, 'content-type': 'application/x-www-form-urlencoded' },
      { origin: EVIL, 'content-type': 'text/plain', 'x-kefu-client': 'console' },
      // Same site (127.0.0.1), other port: SameSite=Lax sends the cookie, the origin differs.
      { origin: `http://127.0.0.1:${port + 1}`, 'content-type': 'text/plain' },
      // Own origin, but not the console (no custom header).
      { origin: s.url, 'content-type': 'text/plain' },
      { 'sec-fetch-site': 'cross-site', 'content-type': 'text/plain' },
      { origin: 'null', 'content-type': 'text/plain', 'x-kefu-client': 'console' },
    ];
    for (const headers of forged) {
      const res = await fetch(accept, {
        method: 'POST',
        headers: { cookie, ...headers },
        body: 'a=1',
      });
      const body = (await res.json()) as { code: string };
      expect([res.status, body.code], JSON.stringify(headers)).toEqual([403, 'AUTH_CSRF']);
    }
    expect(await stateOf(convId)).toBe('queued');
    // Reading with the cookie needs no header (GET changes nothing).
    const me = await fetch(`${s.url}/api/me`, { headers: { cookie, origin: EVIL } });
    expect(me.status).toBe(200);
    // The console's own request: same origin and its header.
    const own = await fetch(accept, {
      method: 'POST',
      headers: {
        cookie,
        origin: s.url,
        'x-kefu-client': 'console',
        'content-type': 'application/json',
      },
      body: '{}',
    });
    expect(own.status).toBe(200);
    expect(await stateOf(convId)).toBe('active');
    // Bearer requests are not CSRF-able and need neither.
    const bearer = new ApiClient(s.url, token);
    await bearer.request('PUT', '/api/me/status', { status: 'away' }, { origin: EVIL });
    expect((await bearer.get('/api/me')).agent.status).toBe('away');
  });

  it('refuses sign-in posted from another origin, and reads no ?token= from the URL', async () => {
    const res = await fetch(`${s.url}/api/auth/login`, {
      method: 'POST',
      headers: { origin: EVIL, 'content-type': 'application/json' },
      body: JSON.stringify({ login: 'x', password: 'y' }),
    });
    expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([403, 'AUTH_CSRF']);
    const { token } = await cookieSession();
    const viaQuery = await fetch(`${s.url}/api/me?token=${encodeURIComponent(token)}`);
    expect(viaQuery.status).toBe(401);
  });

  it('marks the cookie Secure when the console is reached over HTTPS', async () => {
    const plain = await cookieSession();
    expect(plain.setCookie).toMatch(/HttpOnly/);
    expect(plain.setCookie).not.toMatch(/Secure/);
    const https = await cookieSession({ 'x-forwarded-proto': 'https' });
    expect(https.setCookie).toMatch(/; Secure/);
  });

  it('sends the security headers on the console, its assets and the API', async () => {
    for (const p of ['/', '/desk', '/assets/app.js', '/api/health', '/api/me', '/api/nope']) {
      const res = await fetch(s.url + p);
      const h = res.headers;
      const csp = h.get('content-security-policy') ?? '';
      for (const directive of [
        "default-src 'self'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
        "form-action 'self'",
      ])
        expect(csp, p).toContain(directive);
      expect(csp, p).not.toContain('unsafe');
      expect([h.get('x-frame-options'), h.get('x-content-type-options')], p).toEqual([
        'DENY',
        'nosniff',
      ]);
      expect(h.get('referrer-policy'), p).toBe('same-origin');
    }
  });

  it('refuses link messages whose target is not http(s)', async () => {
    const agent = await s.agent('linker');
    const convId = await queued('o-link');
    await agent.post(`/api/conversations/${convId}/accept`);
    const link = { title: 't', description: 'd', thumbUrl: 'https://example.com/t.png' };
    for (const url of ['javascript:alert(1)', 'data:text/html,<b>x</b>', 'vbscript:msgbox(1)']) {
      const err = await agent.fails(
        agent.post(`/api/conversations/${convId}/messages`, {
          clientId: `l-${url.slice(0, 4)}`,
          kind: 'link',
          link: { ...link, url },
        }),
      );
      expect([err.status, err.body.code, err.body.details?.field]).toEqual([
        400,
        'VALIDATION_FAILED',
        'link.url',
      ]);
    }
  });
});

describe('files on disk', () => {
  it('creates the SQLite database, its WAL and shared memory 0600, in a 0700 folder', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'kefu-modes-'));
    const dataDir = path.join(root, 'nested', 'data');
    const { config } = testConfig('sqlite', { dataDir });
    const app = await buildApp(config, { logger: false, workers: false });
    try {
      const mode = (f: string) => (statSync(path.join(dataDir, f)).mode & 0o777).toString(8);
      expect(['kefu.db', 'kefu.db-wal', 'kefu.db-shm', 'secret.key'].map(mode)).toEqual([
        '600',
        '600',
        '600',
        '600',
      ]);
      expect((statSync(dataDir).mode & 0o777).toString(8)).toBe('700');
    } finally {
      await app.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('kefu demo listens on 127.0.0.1 by default and prints the address it bound', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'kefu-demo-'));
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KEFU_')) env[k] = v;
    Object.assign(env, {
      KEFU_PORT: '0',
      KEFU_SIM_PORT: '0',
      KEFU_DATA_DIR: dataDir,
      KEFU_PASSWORD_COST: '14',
    });
    const main = path.resolve(import.meta.dirname, '../src/main.ts');
    const demo = await startScript(main, ['demo'], env, /Agent console\s+(http\S+?)\/\s/, {
      timeoutMs: 60_000,
    });
    try {
      const url = new URL(demo.url);
      expect(url.hostname).toBe('127.0.0.1');
      expect(demo.output()).toContain(`bound to 127.0.0.1, port ${url.port}`);
      expect((await fetch(`${demo.url}/api/health`)).ok).toBe(true);
      // 127.0.0.2 is this machine too: only a wildcard bind (0.0.0.0) would answer there.
      await expect(fetch(`http://127.0.0.2:${url.port}/api/health`)).rejects.toThrow();
    } finally {
      await demo.kill();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
