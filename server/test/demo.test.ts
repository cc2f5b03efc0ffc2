import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiClient } from './api-client';
import { waitFor } from './harness';

const ROOT = path.resolve(import.meta.dirname, '../..');

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** `npm start` as a newcomer runs it; resolves with the console URL from the banner. */
function npmStart(env: NodeJS.ProcessEnv) {
  const child = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = waitFor(() => /Agent console\s+(http\S+?)\/\s/.exec(output)?.[1], 60_000, 'banner');
  return { child, url, exited, output: () => output };
}

async function post(url: string, body: object) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return (await res.json()) as Record<string, unknown>;
}

describe('the demo (npm start)', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kefu-demo-'));
  const running: ChildProcess[] = [];
  afterAll(() => {
    for (const c of running) c.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps the terminal quiet, stops on a signal to npm, and remembers the emulator’s customers', async () => {
    const simPort = await freePort();
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KEFU_')) env[k] = v;
    Object.assign(env, {
      KEFU_DATA_DIR: dataDir,
      KEFU_PORT: '0',
      KEFU_SIM_PORT: String(simPort),
      KEFU_SKIP_WEB_BUILD: '1',
    });
    const simUrl = `http://127.0.0.1:${simPort}`;

    const first = npmStart(env);
    running.push(first.child);
    const url = await first.url;
    const apps = (await (await fetch(`${simUrl}/sim/api/apps`)).json()) as { appId: string }[];
    const appId = apps[0]!.appId;
    await post(`${simUrl}/sim/api/customer/text`, { appId, openid: 'o-demo-1', content: '在吗' });
    const agent = await ApiClient.login(url, 'xiaowang', 'kefu1234');
    await agent.put('/api/me/status', { status: 'online' });
    const conv = await waitFor(
      async () =>
        (await agent.get<{ items: { id: string }[] }>('/api/conversations?state=queued')).items[0],
      10_000,
      'queued',
    );
    await agent.post(`/api/conversations/${conv.id}/accept`);
    await agent.post(`/api/conversations/${conv.id}/messages`, {
      clientId: 'demo-1',
      kind: 'text',
      text: '在的',
    });
    const inbox = async () =>
      (
        (await (await fetch(`${simUrl}/sim/api/inbox?appId=${appId}&openid=o-demo-1`)).json()) as {
          items: unknown[];
        }
      ).items.length;
    await waitFor(async () => (await inbox()) === 1, 10_000, 'first reply');

    // Only the banner: no JSON log lines, no build output (the log is in a file).
    expect(first.output()).toContain('Press Ctrl+C to stop.');
    expect(
      first
        .output()
        .split('\n')
        .filter((l) => l.trimStart().startsWith('{')),
    ).toEqual([]);
    expect(existsSync(path.join(dataDir, 'kefu.log'))).toBe(true);

    // SIGTERM to npm itself (a process manager, `kill <npm pid>`): everything stops.
    first.child.kill('SIGTERM');
    await first.exited;
    await waitFor(
      async () =>
        !(await fetch(`${simUrl}/sim/api/apps`).then(
          () => true,
          () => false,
        )),
      20_000,
      'emulator stopped',
    );
    expect(existsSync(path.join(dataDir, 'wechat-sim.json'))).toBe(true);

    // A second start: the old conversation can still be answered (the emulator knows o-demo-1).
    const second = npmStart(env);
    running.push(second.child);
    const url2 = await second.url;
    const agent2 = await ApiClient.login(url2, 'xiaowang', 'kefu1234');
    await agent2.put('/api/me/status', { status: 'online' });
    await agent2.post(`/api/conversations/${conv.id}/accept`).catch(() => undefined);
    const reply = await agent2.post<{ id: string }>(`/api/conversations/${conv.id}/messages`, {
      clientId: 'demo-2',
      kind: 'text',
      text: '还在的',
    });
    await waitFor(
      async () =>
        (
          await agent2.get<{ items: { id: string; delivery: string }[] }>(
            `/api/conversations/${conv.id}/messages`,
          )
        ).items.find((m) => m.id === reply.id)?.delivery === 'sent',
      15_000,
      'second reply sent',
    );
    expect(await inbox()).toBe(2);
    // Ctrl+C in a terminal signals the whole process group; a signal to npm alone must do too.
    second.child.kill('SIGTERM');
    await second.exited;
    await waitFor(
      async () =>
        !(await fetch(`${simUrl}/sim/api/apps`).then(
          () => true,
          () => false,
        )),
      20_000,
      'second demo stopped',
    );
  }, 180_000);
});
