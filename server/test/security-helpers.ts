/** Helpers for the security tests: channels an attacker controls, and what they send. */
import { buildPushRequest, type AppConfig } from '@kefu/wechat-sim';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiClient } from './api-client';
import { waitFor } from './harness';
import { newMsgId } from './push-helpers';

/** Push credentials of a plaintext channel created by the tests (not known to the emulator). */
export interface ForgedChannel {
  id: string;
  appId: string;
  token: string;
  originalId: string;
}

/** Creates a plaintext JSON channel with the given AppID/secret/base through the admin API. */
export async function createPlaintextChannel(
  owner: ApiClient,
  input: { appId: string; appSecret: string; apiBase: string },
): Promise<ForgedChannel> {
  const token = `tok${randomBytes(4).toString('hex')}`;
  const originalId = `gh_${randomBytes(5).toString('hex')}`;
  const ch = await owner.post<{ id: string }>('/api/channels', {
    name: `forged-${originalId}`,
    originalId,
    token,
    mode: 'plaintext',
    format: 'json',
    ...input,
  });
  return { id: ch.id, appId: input.appId, token, originalId };
}

/** Signs and POSTs a customer's text push to a channel's push URL, as WeChat would. */
export async function pushTextTo(
  kefuUrl: string,
  channel: ForgedChannel,
  openid: string,
  content: string,
): Promise<void> {
  const app: AppConfig = {
    appId: channel.appId,
    appSecret: 'unused',
    originalId: channel.originalId,
    token: channel.token,
    encodingAesKey: 'k'.repeat(43),
    mode: 'plaintext',
    format: 'json',
    pushUrl: `${kefuUrl}/wechat/${channel.id}`,
  };
  const now = Math.floor(Date.now() / 1000);
  const push = buildPushRequest(
    app,
    {
      ToUserName: channel.originalId,
      FromUserName: openid,
      CreateTime: now,
      MsgType: 'text',
      Content: content,
      MsgId: newMsgId(),
    },
    { timestamp: String(now) },
  );
  const res = await fetch(push.url, {
    method: 'POST',
    headers: { 'content-type': push.contentType },
    body: push.body,
  });
  if (res.status !== 200) throw new Error(`push answered ${res.status}: ${await res.text()}`);
}

/** Waits for the customer's queued conversation and accepts it as `agent`; returns its id. */
export async function acceptQueued(agent: ApiClient, openid: string): Promise<string> {
  const conv = await waitFor(
    async () =>
      (await agent.get('/api/conversations?state=queued')).items.find(
        (c: any) => c.customer.openid === openid,
      ),
    15_000,
    `the queued conversation of ${openid}`,
  );
  await agent.post(`/api/conversations/${conv.id}/accept`);
  return conv.id as string;
}

/** Waits until the message's delivery is final and returns it. */
export async function settled(agent: ApiClient, convId: string, messageId: string): Promise<any> {
  return waitFor(
    async () => {
      const { items } = await agent.get(`/api/conversations/${convId}/messages`);
      const m = items.find((x: any) => x.id === messageId);
      return m && m.delivery !== 'pending' ? m : null;
    },
    20_000,
    `message ${messageId} to settle`,
  );
}

/** A local HTTP server that records every request (and every TCP connection). */
export interface Recorder {
  url: string;
  requests: { method: string; path: string }[];
  connections: number;
  close(): Promise<void>;
}

/** Starts a recorder on 127.0.0.1:0; `answer` decides the response (default 200 `{}`). */
export async function startRecorder(
  answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}'),
): Promise<Recorder> {
  const rec: Recorder = { url: '', requests: [], connections: 0, close: async () => undefined };
  const server = createServer((req, res) => {
    rec.requests.push({ method: req.method ?? '', path: req.url ?? '' });
    req.resume();
    req.on('end', () => answer(req, res));
  });
  server.on('connection', () => {
    rec.connections += 1;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  rec.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  rec.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return rec;
}
