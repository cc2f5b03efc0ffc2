import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { classicToken, DOC_APP, simWith, tinyPng } from '../test/helpers';
import { IMAGE_MAX_BYTES, MEDIA_TTL_MS } from './media-store';
import type { Sim } from './sim';

let sim: Sim;
let tick: (ms: number) => void;
let base: string;
let token: string;

beforeEach(async () => {
  ({ sim, tick } = await simWith());
  base = await sim.listen();
  token = await classicToken(sim);
});
afterEach(async () => {
  await sim.close();
});

/** Uploads like a real client: fetch + FormData over the socket. */
async function upload(bytes: Buffer, type = 'image', field = 'media') {
  const form = new FormData();
  form.append(field, new Blob([new Uint8Array(bytes)], { type: 'image/png' }), 'pic.png');
  const res = await fetch(`${base}/cgi-bin/media/upload?access_token=${token}&type=${type}`, {
    method: 'POST',
    body: form,
  });
  return (await res.json()) as Record<string, unknown>;
}

async function mediaGet(id: string) {
  return fetch(
    `${base}/cgi-bin/media/get?access_token=${token}&media_id=${encodeURIComponent(id)}`,
  );
}

describe('temporary media (§3.5)', () => {
  it('round-trips an upload through media/get', async () => {
    const png = tinyPng(16);
    const up = await upload(png);
    expect(up.type).toBe('image');
    expect(up.created_at).toBe(Math.floor(sim.now() / 1000));
    const id = up.media_id as string;
    const res = await mediaGet(id);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${id}.png"`);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(png);
    expect(sim.stats()).toMatchObject({ upload: 1, media_get: 1 });
  });

  it('accepts JPEG and GIF by magic bytes and rejects other bytes with 40005', async () => {
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(20)]);
    const gif = Buffer.concat([Buffer.from('GIF89a'), Buffer.alloc(20)]);
    expect((await upload(jpeg)).media_id).toBeTypeOf('string');
    expect((await upload(gif)).media_id).toBeTypeOf('string');
    expect((await upload(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).errcode).toBe(
      40005,
    );
  });

  it('caps images at 2 MB (40009) and wants type=image (40004) and a media field (41005)', async () => {
    const png = tinyPng();
    const exact = Buffer.concat([png, Buffer.alloc(IMAGE_MAX_BYTES - png.length)]);
    expect((await upload(exact)).media_id).toBeTypeOf('string');
    expect((await upload(Buffer.concat([exact, Buffer.alloc(1)]))).errcode).toBe(40009);
    expect((await upload(png, 'voice')).errcode).toBe(40004);
    expect((await upload(png, 'image', 'file')).errcode).toBe(41005);
  });

  it('expires media after 3 days: media/get and send answer 40007', async () => {
    const id = (await upload(tinyPng())).media_id as string;
    await sim.sendText(DOC_APP.appId, 'oM', 'hi');
    tick(MEDIA_TTL_MS - 1);
    expect((await mediaGet(id)).status).toBe(200);
    tick(1);
    token = await classicToken(sim);
    expect(await (await mediaGet(id)).json()).toMatchObject({ errcode: 40007 });
    await sim.sendText(DOC_APP.appId, 'oM', 'hi again');
    const send = await sim.app.inject({
      method: 'POST',
      url: `/cgi-bin/message/custom/send?access_token=${token}`,
      payload: { touser: 'oM', msgtype: 'image', image: { media_id: id } },
    });
    expect(send.json().errcode).toBe(40007);
    expect(await (await mediaGet('unknown')).json()).toMatchObject({ errcode: 40007 });
  });

  it("serves a customer's image through media/get and its PicUrl", async () => {
    const png = tinyPng(8);
    await sim.sendImage(DOC_APP.appId, 'oM', png);
    const [item] = sim.customerTimeline(DOC_APP.appId, 'oM');
    const res = await mediaGet(item!.mediaId!);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(png);
    const pic = await fetch(`${base}/sim/media/${item!.mediaId!}`);
    expect(Buffer.from(await pic.arrayBuffer())).toEqual(png);
    expect((await fetch(`${base}/sim/media/nope`)).status).toBe(404);
  });
});
