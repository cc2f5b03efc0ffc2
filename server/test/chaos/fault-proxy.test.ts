import net from 'node:net';
import { once } from 'node:events';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy } from '../fault-proxy';
import { PG_URL } from '../harness';

/** An echo server: every byte comes back. */
async function startEcho(): Promise<net.Server> {
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/** Connects, sends `text` and resolves with the first echoed chunk, or the socket's error. */
function roundTrip(port: number, text: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    const timer = setTimeout(() => {
      s.destroy();
      resolve('(nothing)');
    }, timeoutMs);
    s.once('data', (d: Buffer) => {
      clearTimeout(timer);
      s.end();
      resolve(d.toString());
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(err.code ?? err.message));
    });
    s.once('close', () => {
      clearTimeout(timer);
      reject(new Error('closed'));
    });
  });
}

describe('the TCP fault proxy', () => {
  let echo: net.Server;
  let proxy: FaultProxy;
  beforeAll(async () => {
    echo = await startEcho();
    proxy = await FaultProxy.start({
      host: '127.0.0.1',
      port: (echo.address() as net.AddressInfo).port,
    });
  });
  afterAll(async () => {
    await proxy.close();
    echo.close();
  });

  it('passes bytes through, and late when told to delay', async () => {
    expect(await roundTrip(proxy.port, 'ping')).toBe('ping');
    proxy.delay(150);
    const started = Date.now();
    expect(await roundTrip(proxy.port, 'slow')).toBe('slow');
    // Both directions wait: at least the delay went by (a lower bound only, never a ceiling).
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    proxy.pass();
  });

  it('resets new connections while dropping, and serves again after', async () => {
    proxy.drop();
    await expect(roundTrip(proxy.port, 'x')).rejects.toThrow(/ECONNRESET|closed/);
    proxy.pass();
    expect(await roundTrip(proxy.port, 'back')).toBe('back');
    expect(proxy.stats.dropped).toBeGreaterThan(0);
  });

  it('holds bytes in a black hole and releases them when it heals', async () => {
    proxy.blackhole();
    const pending = roundTrip(proxy.port, 'held', 30_000);
    let settled = false;
    void pending.finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false);
    proxy.pass();
    expect(await pending).toBe('held');
  });

  it('resets every live connection on both sides', async () => {
    const s = net.connect(proxy.port, '127.0.0.1');
    await once(s, 'connect');
    s.write('hi');
    await once(s, 'data');
    const closed = new Promise<string>((resolve) => {
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      s.once('close', () => resolve('close'));
    });
    expect(proxy.resetAll()).toBeGreaterThanOrEqual(1);
    expect(await closed).toBe('ECONNRESET');
    expect(await roundTrip(proxy.port, 'new')).toBe('new');
  });

  it('carries a PostgreSQL session, which a reset ends with an error, not a hang', async () => {
    const u = new URL(PG_URL);
    const pgProxy = await FaultProxy.start({ host: u.hostname, port: Number(u.port || 5432) });
    u.port = String(pgProxy.port);
    const client = new pg.Client({ connectionString: u.toString() });
    const errors: Error[] = [];
    client.on('error', (err) => errors.push(err));
    try {
      await client.connect();
      expect((await client.query<{ n: number }>('select 1 as n')).rows[0]!.n).toBe(1);
      pgProxy.resetAll();
      await expect(client.query('select pg_sleep(0.1)')).rejects.toThrow();
    } finally {
      await client.end().catch(() => undefined);
      await pgProxy.close();
    }
  });
});
