import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './harness';

const DIST = path.resolve(import.meta.dirname, '../../web/dist');

/** A raw GET (no client-side decompression), so the bytes on the wire are what we check. */
function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
      })
      .on('error', reject);
  });
}

describe('compression and caching of what the console loads', () => {
  let s: Stack;
  let entry: string;
  beforeAll(async () => {
    if (!existsSync(path.join(DIST, 'index.html')))
      throw new Error('web/dist is missing: run `npm run build:web` first (npm test does)');
    s = await startStack('sqlite');
    const html = readFileSync(path.join(DIST, 'index.html'), 'utf8');
    entry = /<script[^>]+src="\/(assets\/[^"]+\.js)"/.exec(html)?.[1] ?? '';
    expect(entry).not.toBe('');
  });
  afterAll(async () => {
    await s?.close();
  });

  it('the login page’s JavaScript arrives precompressed, brotli first, and cached for good', async () => {
    const original = readFileSync(path.join(DIST, entry));
    const br = await get(`${s.url}/${entry}`, { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.status).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(br.headers['content-type']).toMatch(/javascript/);
    expect(br.body.length).toBeLessThan(original.length / 2);
    expect(brotliDecompressSync(br.body).equals(original)).toBe(true);

    const gz = await get(`${s.url}/${entry}`, { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).equals(original)).toBe(true);

    const plain = await get(`${s.url}/${entry}`);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.equals(original)).toBe(true);
  });

  it('the page itself is never cached stale', async () => {
    const page = await get(`${s.url}/login`, { 'accept-encoding': 'br' });
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('no-cache');
  });

  it('large API answers are compressed, small ones and pushes are not', async () => {
    const doc = await get(`${s.url}/api/openapi.json`, { 'accept-encoding': 'gzip' });
    expect(doc.headers['content-encoding']).toBe('gzip');
    const spec = JSON.parse(gunzipSync(doc.body).toString('utf8')) as { paths: object };
    expect(Object.keys(spec.paths).length).toBeGreaterThan(10);

    const health = await get(`${s.url}/api/health`, { 'accept-encoding': 'gzip' });
    expect(health.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(health.body.toString('utf8'))).toMatchObject({ ok: true });

    const pushed = await s.sim.sendText(s.channel.appId, 'o-compress', '你好');
    expect(pushed).toMatchObject({ acknowledged: true, body: 'success' });
  });
});
