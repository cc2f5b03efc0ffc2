import { deliverPush, type PushRequest } from '@kefu/wechat-sim';
import Fastify from 'fastify';
import WebSocket, { WebSocketServer } from 'ws';
import { startStack, type Stack } from '../server/test/harness';
import { DIALECT, median, nextMsgId, now, openConsoleSocket, percentile, ratioLine } from './lib';

const AGENTS = 20;
const WARMUP = 30;
const ITERATIONS = 300;

/** Text of each `message.created` a socket receives → the moment it arrived. */
type Seen = (text: string, at: number) => void;

function listen(ws: WebSocket, seen: Seen): void {
  ws.on('message', (data: Buffer) => {
    const at = now();
    const frame = JSON.parse(data.toString('utf8')) as {
      type: string;
      event?: { name: string; data: { message?: { body?: { text?: string } } } };
    };
    const text = frame.event?.data.message?.body?.text;
    if (frame.type === 'event' && frame.event?.name === 'message.created' && text) seen(text, at);
  });
}

function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/**
 * Times `trigger` until every socket has seen its text: the slowest socket (what the last agent
 * waits) and each socket (the median agent).
 */
async function timeFanout(
  sockets: number,
  subscribe: (seen: Seen) => void,
  trigger: (text: string) => Promise<void>,
  tag: string,
): Promise<{ all: number[]; each: number[] }> {
  const pending = new Map<string, { left: number; done: () => void; at: number[] }>();
  subscribe((text, at) => {
    const p = pending.get(text);
    if (!p) return;
    p.at.push(at);
    if (--p.left === 0) p.done();
  });
  const all: number[] = [];
  const each: number[] = [];
  for (let i = 0; i < WARMUP + ITERATIONS; i++) {
    const text = `${tag} 新消息 ${i}`;
    const entry = { left: sockets, done: (): void => undefined, at: [] as number[] };
    const received = new Promise<void>((resolve) => (entry.done = resolve));
    pending.set(text, entry);
    const t0 = now();
    await trigger(text);
    await received;
    pending.delete(text);
    if (i < WARMUP) continue;
    all.push(Math.max(...entry.at) - t0);
    each.push(...entry.at.map((t) => t - t0));
  }
  return { all, each };
}

/** Kefu: a customer push; every agent bound to the channel gets `message.created`. */
async function kefuFanout(s: Stack) {
  const sockets: WebSocket[] = [];
  for (let a = 0; a < AGENTS; a++) {
    const agent = await s.agent(`fan-${a}`);
    sockets.push(await openConsoleSocket(`${s.url.replace(/^http/, 'ws')}/api/ws`, agent.token));
  }
  const { originalId } = s.sim.getApp(s.channel.appId)!;
  const pushes = new Map<string, PushRequest>();
  const build = (text: string) =>
    s.sim.buildPush(s.channel.appId, {
      ToUserName: originalId,
      FromUserName: 'o-fanout',
      CreateTime: Math.floor(Date.now() / 1000),
      MsgType: 'text',
      Content: text,
      MsgId: nextMsgId(),
    });
  // Signing and encryption happen before the clock starts, like on WeChat's side.
  for (let i = 0; i < WARMUP + ITERATIONS; i++) {
    const text = `kefu 新消息 ${i}`;
    pushes.set(text, build(text));
  }
  try {
    return await timeFanout(
      AGENTS,
      (seen) => sockets.forEach((ws) => listen(ws, seen)),
      async (text) => {
        const r = await deliverPush(pushes.get(text)!, 5000);
        if (!r.acknowledged) throw new Error(`push not acknowledged: ${r.status}`);
      },
      'kefu',
    );
  } finally {
    for (const ws of sockets) ws.terminate();
  }
}

/** The floor: a bare POST whose handler broadcasts one frame to every socket with `ws`. */
async function rawFanout() {
  const app = Fastify({ logger: false });
  const wss = new WebSocketServer({ server: app.server, path: '/ws' });
  let seq = 0;
  app.post<{ Body: { text: string } }>('/trigger', async (req) => {
    const frame = JSON.stringify({
      type: 'event',
      seq: ++seq,
      event: { name: 'message.created', data: { message: { body: { text: req.body.text } } } },
    });
    for (const client of wss.clients) client.send(frame);
    return 'success';
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const sockets = await Promise.all(
    Array.from({ length: AGENTS }, () => open(`${url.replace(/^http/, 'ws')}/ws`)),
  );
  try {
    return await timeFanout(
      AGENTS,
      (seen) => sockets.forEach((ws) => listen(ws, seen)),
      async (text) => {
        const res = await fetch(`${url}/trigger`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text }),
        });
        await res.text();
      },
      'raw',
    );
  } finally {
    for (const ws of sockets) ws.terminate();
    wss.close();
    await app.close();
  }
}

/** (c) Realtime fan-out: customer push → `message.created` on 20 agents' sockets, vs raw ws. */
export async function benchFanout(): Promise<string[]> {
  const raw = await rawFanout();
  const s = await startStack(DIALECT);
  try {
    const kefu = await kefuFanout(s);
    console.log(
      `  ${ITERATIONS} pushes one at a time to ${AGENTS} sockets, ${DIALECT}; ` +
        `last socket p95 kefu ${percentile(kefu.all, 95).toFixed(2)} ms raw ${percentile(raw.all, 95).toFixed(2)} ms; ` +
        `median socket p50 kefu ${median(kefu.each).toFixed(2)} ms raw ${median(raw.each).toFixed(2)} ms`,
    );
    return [ratioLine(`fanout-${AGENTS}`, median(kefu.all), median(raw.all), 'ms')];
  } finally {
    await s.close();
  }
}
