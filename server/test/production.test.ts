import { createSim, type Sim } from '@kefu/wechat-sim';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from './api-client';
import { waitFor } from './harness';
import { READY, startScript, type KefuProcess } from './kefu-process';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * What a deployment ships, and nothing else: the manifests, the lock file, the built server
 * (server/dist) and console (web/dist). No TypeScript source of the server or the emulator:
 * if `kefu start` needed either, it would fail here.
 */
const SHIPPED = [
  'package.json',
  'package-lock.json',
  'server/package.json',
  'server/bin',
  'server/dist',
  'shared/package.json',
  'wechat-sim/package.json',
  'web/package.json',
  'web/dist',
];

describe('the production path: npm ci --omit=dev, the build, kefu start on plain node', () => {
  let dir: string;
  let sim: Sim;
  let kefu: KefuProcess | undefined;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    for (const built of ['server/dist/main.js', 'web/dist/index.html'])
      if (!existsSync(path.join(ROOT, built)))
        throw new Error(`${built} is missing: run \`npm run build\` first (npm test does)`);
    dir = mkdtempSync(path.join(tmpdir(), 'kefu-prod-'));
    for (const item of SHIPPED)
      cpSync(path.join(ROOT, item), path.join(dir, item), { recursive: true });
    // Exactly what docs/deploying.md says, from npm's cache when it has the packages.
    await run('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], {
      cwd: dir,
      env: process.env,
      timeout: 300_000,
    });
    sim = await createSim();
    const simUrl = await sim.listen(0);
    const base: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KEFU_')) base[k] = v;
    env = {
      ...base,
      NODE_ENV: 'production',
      KEFU_HOST: '127.0.0.1',
      KEFU_PORT: '0',
      KEFU_DATA_DIR: path.join(dir, 'data'),
      KEFU_ALLOWED_OUTBOUND: simUrl,
      KEFU_WECHAT_API_BASE: simUrl,
      KEFU_LOG_LEVEL: 'warn',
    };
  }, 360_000);

  afterAll(async () => {
    await kefu?.kill();
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('installs no development tools', () => {
    const installed = new Set(readdirSync(path.join(dir, 'node_modules')));
    for (const dev of ['tsx', 'vite', 'vitest', 'typescript', 'esbuild', 'playwright-core', 'vue'])
      expect(installed.has(dev), `${dev} is installed`).toBe(false);
    expect(installed.has('fastify')).toBe(true);
  });

  it('starts on plain node and runs the loop: push in, accept, reply out through the emulator', async () => {
    const bin = path.join(dir, 'server/bin/kefu.js');
    const login = `owner-${randomBytes(3).toString('hex')}`;
    await run(
      process.execPath,
      [
        bin,
        'create-owner',
        '--workspace',
        '生产店',
        '--login',
        login,
        '--password',
        'owner-pass-1',
      ],
      { cwd: dir, env },
    );
    kefu = await startScript(bin, ['start'], env, READY, { plainNode: true, cwd: dir });
    const owner = await ApiClient.login(kefu.url, login, 'owner-pass-1');

    const app = {
      appId: `wx${randomBytes(8).toString('hex')}`,
      appSecret: `secret${randomBytes(8).toString('hex')}`,
      originalId: `gh_${randomBytes(6).toString('hex')}`,
      token: `tok${randomBytes(4).toString('hex')}`,
      encodingAesKey: randomBytes(40)
        .toString('base64')
        .replace(/[^A-Za-z0-9]/g, '')
        .slice(0, 43),
    };
    const channel = await owner.post<{ id: string; pushUrl: string }>('/api/channels', {
      name: '生产小程序',
      ...app,
      mode: 'safe',
      format: 'json',
      apiBase: sim.url,
    });
    sim.addApp({
      ...app,
      mode: 'safe',
      format: 'json',
      pushUrl: `${kefu.url}/wechat/${channel.id}`,
    });
    await owner.put(`/api/channels/${channel.id}/agents`, { agentIds: [owner.agentId] });
    await owner.put('/api/me/status', { status: 'online' });

    const pushed = await sim.sendText(app.appId, 'o-prod-1', '在吗？');
    expect(pushed).toMatchObject({ acknowledged: true, body: 'success' });
    const conv = await waitFor(
      async () =>
        (await owner.get<{ items: { id: string }[] }>('/api/conversations?state=queued')).items[0],
      10_000,
      'queued conversation',
    );
    await owner.post(`/api/conversations/${conv.id}/accept`);
    await owner.post(`/api/conversations/${conv.id}/messages`, {
      clientId: 'prod-1',
      kind: 'text',
      text: '在的，请讲。',
    });
    await waitFor(() => sim.inbox(app.appId, 'o-prod-1').length === 1, 10_000, 'reply delivered');
    expect(sim.inbox(app.appId, 'o-prod-1')[0]?.text).toBe('在的，请讲。');

    // The console is served from the build, precompressed.
    const page = await fetch(`${kefu.url}/login`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="app"');
  });
});
