import type { FastifyInstance } from 'fastify';
import { bodyBuffer, guardApi, queryOf, sendWx } from './api-guard';
import { extensionOf, IMAGE_MAX_BYTES, sniffImageMime } from './media-store';
import { boundaryOf, parseMultipart } from './multipart';
import type { SimState } from './state';

/** media/upload, media/get (§3.5) and the sim's own URL for PicUrl/ThumbUrl. */
export function registerMediaRoutes(app: FastifyInstance, state: SimState): void {
  app.post('/cgi-bin/media/upload', async (req, reply) => {
    const appId = guardApi(state, 'upload', req, reply);
    if (appId === undefined) return reply;
    if (queryOf(req).type !== 'image') return sendWx(reply, 40004);
    const boundary = boundaryOf(req.headers['content-type']);
    const parts = boundary ? parseMultipart(bodyBuffer(req), boundary) : [];
    const media = parts.find((p) => p.name === 'media');
    if (!media || media.data.length === 0) return sendWx(reply, 41005);
    if (media.data.length > IMAGE_MAX_BYTES) return sendWx(reply, 40009);
    const mime = sniffImageMime(media.data);
    if (!mime) return sendWx(reply, 40005);
    const now = state.now();
    // Copy: the part is a view into the whole request body.
    const rec = state.media.put(appId, Buffer.from(media.data), mime, now);
    return reply.send({ type: 'image', media_id: rec.id, created_at: Math.floor(now / 1000) });
  });

  app.get('/cgi-bin/media/get', async (req, reply) => {
    const appId = guardApi(state, 'media_get', req, reply);
    if (appId === undefined) return reply;
    const id = queryOf(req).media_id;
    const rec = id === undefined ? undefined : state.media.live(appId, id, state.now());
    if (!rec) return sendWx(reply, 40007);
    return reply
      .header('content-type', rec.mime)
      .header('content-disposition', `attachment; filename="${rec.id}.${extensionOf(rec.mime)}"`)
      .send(rec.bytes);
  });

  app.get<{ Params: { id: string } }>('/sim/media/:id', async (req, reply) => {
    const rec = state.media.get(req.params.id);
    if (!rec) return reply.code(404).send({ error: 'unknown media' });
    return reply.header('content-type', rec.mime).send(rec.bytes);
  });
}
