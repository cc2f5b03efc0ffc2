import { createSim } from '@kefu/wechat-sim';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildApp } from './app';
import { loadConfig } from './config';
import { listenKefu } from './http/listen';
import type { AppContext } from './context';
import { createChannel } from './modules/admin/channel-service';
import { createQuickReply } from './modules/admin/settings-service';
import { createWorkspace } from './modules/admin/workspace-service';
import { createAgent } from './modules/agents/agent-service';
import { loadChannel } from './modules/channels/channel-store';

const DEMO_KEY = 'demo.channelId';

/** Creates the demo shop once (owner, two agents, a mini program, quick replies) and returns its channel. */
async function ensureDemoData(ctx: AppContext, simUrl: string): Promise<string> {
  const existing = await ctx.db
    .selectFrom('kv')
    .select('value')
    .where('key', '=', DEMO_KEY)
    .executeTakeFirst();
  if (existing) {
    await ctx.db
      .updateTable('channels')
      .set({ apiBase: simUrl })
      .where('id', '=', existing.value)
      .execute();
    return existing.value;
  }
  const { workspaceId } = await createWorkspace(ctx, {
    name: '演示商店',
    login: 'admin',
    password: 'admin123',
    displayName: '店长',
  });
  const channel = await createChannel(ctx, workspaceId, {
    name: '演示小程序',
    appId: `wx${randomBytes(8).toString('hex')}`,
    originalId: `gh_${randomBytes(6).toString('hex')}`,
    appSecret: randomBytes(16).toString('hex'),
    token: `demo${randomBytes(6).toString('hex')}`,
    encodingAesKey: randomBytes(40)
      .toString('base64')
      .replace(/[^A-Za-z0-9]/g, '')
      .padEnd(43, 'k')
      .slice(0, 43),
    mode: 'safe',
    format: 'json',
    tokenEndpoint: 'stable',
    idleMinutes: 30,
    apiBase: simUrl,
  });
  await ctx.db
    .insertInto('channelAgents')
    .values({
      channelId: channel.id,
      agentId: (
        await ctx.db
          .selectFrom('agents')
          .select('id')
          .where('login', '=', 'admin')
          .executeTakeFirstOrThrow()
      ).id,
      workspaceId,
      serving: 1,
      createdAt: ctx.now(),
    })
    .execute();
  await createAgent(ctx, workspaceId, {
    login: 'xiaowang',
    displayName: '客服小王',
    password: 'kefu1234',
    role: 'agent',
    capacity: 5,
    channelIds: [channel.id],
  });
  await createAgent(ctx, workspaceId, {
    login: 'xiaoli',
    displayName: '客服小李',
    password: 'kefu1234',
    role: 'agent',
    capacity: 5,
    channelIds: [channel.id],
  });
  await createQuickReply(ctx, workspaceId, {
    shortcut: 'hi',
    text: '您好，很高兴为您服务，请问有什么可以帮您？',
  });
  await createQuickReply(ctx, workspaceId, {
    shortcut: 'ship',
    text: '您的订单已发货，物流信息可在「我的订单」中查看。',
  });
  await createQuickReply(ctx, workspaceId, {
    shortcut: 'bye',
    text: '感谢您的咨询，祝您购物愉快！',
  });
  await ctx.db.insertInto('kv').values({ key: DEMO_KEY, value: channel.id }).execute();
  return channel.id;
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address === '::ffff:127.0.0.1';
}

/** A URL host for a bound address: the wildcard is reached on loopback; IPv6 in brackets. */
function urlHost(address: string): string {
  if (address === '0.0.0.0' || address === '::') return '127.0.0.1';
  return address.includes(':') ? `[${address}]` : address;
}

/**
 * The quick start: Kefu on SQLite plus the WeChat emulator, with a demo mini program configured
 * on both sides, so one person can chat as a customer and answer as an agent.
 */
export async function runDemo(): Promise<void> {
  const simPort = Number(process.env.KEFU_SIM_PORT ?? 7100);
  const sim = await createSim({ logger: false });
  const simUrl = await sim.listen(simPort, '127.0.0.1');
  const config = loadConfig(process.env, {
    // The demo's passwords are printed below and in the README: it listens on this machine only
    // unless KEFU_HOST says otherwise.
    host: process.env.KEFU_HOST || '127.0.0.1',
    port: Number(process.env.KEFU_PORT ?? 3000),
    wechatApiBase: simUrl,
    allowedOutboundBases: [simUrl],
    publicUrl: process.env.KEFU_PUBLIC_URL ?? `http://127.0.0.1:${process.env.KEFU_PORT ?? 3000}`,
    logLevel: (process.env.KEFU_LOG_LEVEL as 'info' | undefined) ?? 'info',
  });
  // The terminal shows the banner; the JSON log goes to a file beside the data.
  mkdirSync(config.dataDir, { recursive: true });
  const logFile = path.join(config.dataDir, 'kefu.log');
  const app = await buildApp(config, { logFile });
  const ctx = app.kefu.ctx;
  // The emulator's customers survive a restart, as WeChat's would (else a reply to an old
  // conversation fails with 40003: the emulator no longer knows the openid).
  const simFile = path.join(config.dataDir, 'wechat-sim.json');
  if (existsSync(simFile)) {
    try {
      sim.importState(readFileSync(simFile, 'utf8'));
    } catch (err) {
      ctx.log.warn({ err, simFile }, 'emulator state not restored');
    }
  }
  let lastSaved = '';
  const saveSim = () => {
    const json = sim.exportState();
    if (json === lastSaved) return;
    writeFileSync(`${simFile}.tmp`, json, { mode: 0o600 });
    renameSync(`${simFile}.tmp`, simFile);
    lastSaved = json;
  };
  const saver = setInterval(() => {
    try {
      saveSim();
    } catch (err) {
      ctx.log.warn({ err, simFile }, 'emulator state not saved');
    }
  }, 5000);
  saver.unref();
  const channelId = await ensureDemoData(ctx, simUrl);
  const channel = await loadChannel(ctx, channelId);
  await listenKefu(app, { port: config.port, host: config.host });
  const bound = app.server.address() as AddressInfo;
  const kefuUrl = `http://${urlHost(bound.address)}:${bound.port}`;
  sim.addApp({
    appId: channel.appId,
    appSecret: channel.secrets.appSecret,
    originalId: channel.originalId,
    token: channel.secrets.token,
    encodingAesKey: channel.secrets.encodingAesKey ?? '',
    mode: channel.mode,
    format: channel.format,
    pushUrl: `${kefuUrl}/wechat/${channel.id}`,
  });
  // Ctrl+C reaches this process twice (from the terminal and forwarded by npm start's
  // wrapper): the first one stops cleanly, the others must not kill it halfway.
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(saver);
    saveSim();
    await app.close();
    await sim.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  const warning = isLoopback(bound.address)
    ? ''
    : '\n  Warning: reachable from other machines, and the demo passwords below are public.';
  console.log(`
  Kefu 客服台 is running (SQLite in ${config.dataDir}, log in ${logFile}).
  Kefu listening on ${kefuUrl} (bound to ${bound.address}, port ${bound.port})${warning}

  Agent console   ${kefuUrl}/
                  admin / admin123 (店长, owner) · xiaowang / kefu1234 · xiaoli / kefu1234
  Customer page   ${simUrl}/   (the WeChat emulator: chat as a mini-program customer)
  API docs        ${kefuUrl}/api/openapi.json

  Press Ctrl+C to stop.
`);
}
