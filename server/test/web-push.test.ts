import { createECDH, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';

describe.each(DIALECTS.slice(0, 1))('Web Push reminders (%s)', (dialect) => {
  let s: Stack;
  let pushService: Server;
  let endpoint = '';
  const received: { headers: Record<string, unknown>; bytes: number }[] = [];

  beforeAll(async () => {
    // A stand-in for the browser vendor's push service: it records what Kefu posts.
    pushService = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, bytes: Buffer.concat(chunks).length });
        res.writeHead(201).end();
      });
    });
    await new Promise<void>((r) => pushService.listen(0, '127.0.0.1', () => r()));
    const addr = pushService.address();
    const origin = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    endpoint = `${origin}/push/abc`;
    // Push endpoints must be https on public addresses; the operator allows this loopback one.
    s = await startStack(dialect, { config: { allowedOutboundBases: [origin] } });
  });
  afterAll(async () => {
    await s?.close();
    pushService?.close();
  });

  it('reminds an online agent whose console is closed; not one who is away or watching live', async () => {
    const closed = await s.agent('closed-console');
    const away = await s.agent('away-agent');
    const live = await s.agent('live-agent');
    const { key } = await closed.get('/api/push/vapid-public-key');
    expect(key).toMatch(/^[A-Za-z0-9_-]{80,}$/);
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const keys = {
      p256dh: ecdh.getPublicKey().toString('base64url'),
      auth: randomBytes(16).toString('base64url'),
    };
    await closed.post('/api/push/subscriptions', { endpoint, keys });
    await away.put('/api/me/status', { status: 'away' });
    const rt = await live.socket();

    await s.sim.sendText(s.channel.appId, 'o-remind', '有人吗');
    await waitFor(() => received.length > 0, 10_000, 'a web push');
    const log = s.app.kefu.reminders.log.filter((r) => r.title === '新的待接入会话');
    expect(log.map((r) => r.agentId)).toContain(closed.agentId);
    expect(log.map((r) => r.agentId)).not.toContain(away.agentId);
    expect(log.map((r) => r.agentId)).not.toContain(live.agentId);
    expect(received[0]!.headers.authorization).toMatch(/^vapid /);
    expect(received[0]!.headers['content-encoding']).toBe('aes128gcm');
    await rt.close();
  });
});
