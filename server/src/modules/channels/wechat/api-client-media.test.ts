import { afterEach, describe, expect, it } from 'vitest';
import { WechatApiClient } from './api-client';
import {
  caught,
  NOT_FOUND,
  startFakeWechat,
  tokenIssuer,
  type FakeHandler,
  type FakeWechat,
} from './test/fake-wechat';

const TYPING = '/cgi-bin/message/custom/typing';
const BUSINESS_TYPING = '/cgi-bin/message/custom/business/typing';
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x7b, 0xff]);
let fake: FakeWechat | null = null;

afterEach(async () => {
  await fake?.close();
  fake = null;
});

async function setup(handle: FakeHandler): Promise<WechatApiClient> {
  await fake?.close();
  const issue = tokenIssuer();
  fake = await startFakeWechat((req) =>
    req.path === '/cgi-bin/stable_token' ? issue() : handle(req),
  );
  return new WechatApiClient({
    baseUrl: fake.baseUrl,
    appId: 'wxapp',
    appSecret: 'secret',
    tokenEndpoint: 'stable',
  });
}

const ok = () => ({ json: { errcode: 0, errmsg: 'ok' } });

describe('sendMessage bodies (§3.2)', () => {
  it('posts text, image, card and link as documented', async () => {
    const client = await setup(ok);
    await client.sendMessage('o1', { type: 'text', text: '你好' });
    await client.sendMessage('o1', { type: 'image', mediaId: 'M' });
    await client.sendMessage('o1', {
      type: 'miniprogrampage',
      title: 'T',
      pagePath: 'pages/a?b=1',
      thumbMediaId: 'TM',
    });
    await client.sendMessage('o1', {
      type: 'miniprogrampage',
      title: 'T',
      pagePath: 'p',
      thumbMediaId: 'TM',
      appId: 'wxapp',
    });
    await client.sendMessage('o1', {
      type: 'link',
      title: 'L',
      description: 'D',
      url: 'https://u',
      thumbUrl: 'https://t',
    });
    const sends = fake!.to('/cgi-bin/message/custom/send');
    expect(sends.map((r) => r.json)).toEqual([
      { touser: 'o1', msgtype: 'text', text: { content: '你好' } },
      { touser: 'o1', msgtype: 'image', image: { media_id: 'M' } },
      {
        touser: 'o1',
        msgtype: 'miniprogrampage',
        miniprogrampage: { title: 'T', pagepath: 'pages/a?b=1', thumb_media_id: 'TM' },
      },
      {
        touser: 'o1',
        msgtype: 'miniprogrampage',
        miniprogrampage: { title: 'T', pagepath: 'p', thumb_media_id: 'TM', appid: 'wxapp' },
      },
      {
        touser: 'o1',
        msgtype: 'link',
        link: { title: 'L', description: 'D', url: 'https://u', thumb_url: 'https://t' },
      },
    ]);
    expect(sends[0]!.headers['content-type']).toContain('application/json');
    expect(sends.every((r) => r.query.access_token === 'T1')).toBe(true);
  });
});

describe('temporary media (§3.5)', () => {
  it('uploadImage sends multipart field "media" with filename and type', async () => {
    const client = await setup(() => ({
      json: { type: 'image', media_id: 'MEDIA1', created_at: 1714112445 },
    }));
    const result = await client.uploadImage(PNG, 'image/png', 'shot.png');
    expect(result).toEqual({ mediaId: 'MEDIA1', createdAt: 1714112445_000 });
    const [req] = fake!.to('/cgi-bin/media/upload');
    expect(req!.query).toMatchObject({ type: 'image', access_token: 'T1' });
    const form = await new Response(new Uint8Array(req!.body), {
      headers: { 'content-type': String(req!.headers['content-type']) },
    }).formData();
    const media = form.get('media');
    expect(media).toBeInstanceOf(File);
    const file = media as File;
    expect(file.name).toBe('shot.png');
    expect(file.type).toBe('image/png');
    expect(Buffer.from(await file.arrayBuffer()).equals(PNG)).toBe(true);
    await client.uploadImage(PNG, 'image/jpeg');
    const second = fake!.to('/cgi-bin/media/upload')[1]!;
    expect(second.body.toString('latin1')).toContain('filename="image.jpg"');
  });

  it('uploadImage retries after a stale token, rebuilding the form', async () => {
    const client = await setup((req) =>
      req.query.access_token === 'T1'
        ? { json: { errcode: 40001, errmsg: 'stale' } }
        : { json: { type: 'image', media_id: 'M2', created_at: 1 } },
    );
    expect((await client.uploadImage(PNG, 'image/png')).mediaId).toBe('M2');
    const uploads = fake!.to('/cgi-bin/media/upload');
    expect(uploads).toHaveLength(2);
    expect(uploads[1]!.body.includes(PNG)).toBe(true);
  });

  it('getMedia returns bytes and content type', async () => {
    const client = await setup(() => ({ body: PNG, contentType: 'image/png' }));
    const media = await client.getMedia('MEDIA1');
    expect(media.contentType).toBe('image/png');
    expect(media.bytes.equals(PNG)).toBe(true);
    expect(fake!.requests.at(-1)!.query).toMatchObject({ media_id: 'MEDIA1', access_token: 'T1' });
  });

  it('getMedia detects a JSON error body, even served as text/plain', async () => {
    const client = await setup(() => ({
      body: '{"errcode":40007,"errmsg":"invalid media_id"}',
      contentType: 'text/plain',
    }));
    const err = await caught(client.getMedia('gone'));
    expect(err).toMatchObject({ errcode: 40007, transient: false });
    expect(err.reason).toContain('media_id');
  });

  it('getMedia refuses a video link answer', async () => {
    const client = await setup(() => ({ json: { video_url: 'http://v' } }));
    expect((await caught(client.getMedia('v'))).transient).toBe(false);
  });
});

describe('typing (§3.4)', () => {
  it('falls back to /business/typing on 404 and remembers it', async () => {
    const client = await setup((req) => (req.path === TYPING ? NOT_FOUND : ok()));
    await client.typing('o1', 'Typing');
    await client.typing('o1', 'CancelTyping');
    expect(fake!.requests.filter((r) => r.path.includes('typing')).map((r) => r.path)).toEqual([
      TYPING,
      BUSINESS_TYPING,
      BUSINESS_TYPING,
    ]);
    expect(fake!.to(BUSINESS_TYPING).map((r) => r.json)).toEqual([
      { touser: 'o1', command: 'Typing' },
      { touser: 'o1', command: 'CancelTyping' },
    ]);
  });

  it('falls back on 40101 too; a typing rule error (45080) is thrown at once', async () => {
    let firstAnswer = 40101;
    const client = await setup((req) =>
      req.path === TYPING ? { json: { errcode: firstAnswer, errmsg: 'x' } } : ok(),
    );
    await client.typing('o1', 'Typing');
    expect(fake!.to(BUSINESS_TYPING)).toHaveLength(1);

    const fresh = await setup((req) =>
      req.path === TYPING ? { json: { errcode: firstAnswer, errmsg: 'x' } } : ok(),
    );
    firstAnswer = 45080;
    expect(await caught(fresh.typing('o1', 'Typing'))).toMatchObject({ errcode: 45080 });
    expect(fake!.to(BUSINESS_TYPING)).toHaveLength(0);
  });

  it('uses /custom/typing when it works', async () => {
    const client = await setup(ok);
    await client.typing('o1', 'Typing');
    expect(fake!.to(TYPING)).toHaveLength(1);
    expect(fake!.to(BUSINESS_TYPING)).toHaveLength(0);
  });
});
