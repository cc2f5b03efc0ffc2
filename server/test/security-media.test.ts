import { makePng } from '@kefu/wechat-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from './api-client';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';
import { acceptQueued } from './security-helpers';

/** A real 1×1 GIF: screen descriptor, 2-colour table, one image, trailer 0x3B. */
const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const SCRIPT = '<script>alert(document.cookie)</script>';

/** GIF magic followed by an HTML document: no GIF structure at all. */
function gifThenHtml(): Buffer {
  return Buffer.concat([
    Buffer.from('GIF89a'),
    Buffer.from([0x10, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00]),
    Buffer.from(`<html><body>${SCRIPT}</body></html>`),
  ]);
}

/** A well-formed GIF whose comment extension carries a script (it also ends with 0x3B). */
function gifWithScriptComment(): Buffer {
  const text = Buffer.from(SCRIPT);
  const comment = Buffer.concat([Buffer.from([0x21, 0xfe, text.length]), text, Buffer.from([0])]);
  return Buffer.concat([GIF.subarray(0, 19), comment, GIF.subarray(19)]);
}

/** A PNG (IHDR first, IEND last) with an HTML tEXt chunk right after IHDR. */
function pngWithHtmlText(): Buffer {
  const png = makePng(4, 4, () => [1, 2, 3]);
  const data = Buffer.from(`Comment\0<html>${SCRIPT}</html>`);
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  chunk.write('tEXt', 4, 'latin1');
  data.copy(chunk, 8);
  return Buffer.concat([png.subarray(0, 33), chunk, png.subarray(33)]);
}

describe.each(DIALECTS)('media are images and are served inert (%s)', (dialect) => {
  let s: Stack;
  let agent: ApiClient;

  beforeAll(async () => {
    s = await startStack(dialect);
    agent = await s.agent('media-agent');
  });
  afterAll(async () => {
    await s?.close();
  });

  it('refuses polyglots (415) and keeps a genuine GIF', async () => {
    const media = s.app.kefu.ctx.db.selectFrom('media').select((e) => e.fn.countAll().as('n'));
    const before = Number((await media.executeTakeFirstOrThrow()).n);
    const truncated = GIF.subarray(0, GIF.length - 1);
    for (const [name, bytes, type] of [
      ['gif then html', gifThenHtml(), 'image/gif'],
      ['gif with a script comment', gifWithScriptComment(), 'image/gif'],
      ['png with an html text chunk', pngWithHtmlText(), 'image/png'],
      ['gif without its trailer', truncated, 'image/gif'],
    ] as const) {
      const err = await agent.fails(agent.post('/api/media', bytes, { 'content-type': type }));
      expect([err.status, err.body.code], name).toEqual([415, 'MEDIA_UNSUPPORTED']);
    }
    expect(Number((await media.executeTakeFirstOrThrow()).n)).toBe(before);
    const ok = await agent.post('/api/media', GIF, { 'content-type': 'image/gif' });
    expect(ok).toMatchObject({ mime: 'image/gif', size: GIF.length });
  });

  it('serves media with nosniff, its checked type, an inline safe name and a sandbox CSP', async () => {
    const { id } = await agent.post('/api/media', GIF, { 'content-type': 'image/gif' });
    const res = await fetch(`${s.url}/api/media/${id}`, {
      headers: { authorization: `Bearer ${agent.token}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-type')).toBe('image/gif');
    expect(res.headers.get('content-disposition')).toBe(`inline; filename="${id}.gif"`);
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
    expect(Buffer.from(await res.arrayBuffer()).equals(GIF)).toBe(true);
  });

  it('a polyglot a customer sends is not kept; the message says why', async () => {
    await s.sim.sendImage(s.channel.appId, 'o-poly', gifThenHtml(), 'image/gif');
    const convId = await acceptQueued(agent, 'o-poly');
    const msg = await waitFor(
      async () =>
        (await agent.get(`/api/conversations/${convId}/messages`)).items.find(
          (m: any) => m.kind === 'image' && m.errorReason,
        ),
      15_000,
      'the image message to record its failure',
    );
    expect(msg.mediaId).toBeNull();
    expect(msg.errorReason).toMatch(/could not be kept/);
  });
});
