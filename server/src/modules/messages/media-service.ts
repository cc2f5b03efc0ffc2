import { LIMITS } from '@kefu/shared';
import { createHash } from 'node:crypto';
import type { AppContext } from '../../context';
import type { Queryable } from '../../db/index';
import { AppError } from '../../errors';
import { newId } from '../../lib/ids';

/** Recognizes JPEG, PNG and GIF by their first bytes; anything else is refused. */
export function sniffImage(data: Buffer): string | null {
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff)
    return 'image/jpeg';
  if (
    data.length >= 8 &&
    data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
  )
    return 'image/png';
  if (data.length >= 6 && /^GIF8[79]a$/.test(data.subarray(0, 6).toString('latin1')))
    return 'image/gif';
  return null;
}

/** Stores an image in the database (shared by every node), checked by magic bytes and size. */
export async function storeImage(
  db: Queryable,
  now: number,
  workspaceId: string,
  data: Buffer,
  maxBytes: number = LIMITS.imageMaxBytes,
): Promise<{ id: string; mime: string; size: number }> {
  if (data.length > maxBytes) throw new AppError('MEDIA_TOO_LARGE');
  const mime = sniffImage(data);
  if (!mime) throw new AppError('MEDIA_UNSUPPORTED');
  const id = newId();
  await db
    .insertInto('media')
    .values({
      id,
      workspaceId,
      mime,
      size: data.length,
      sha256: createHash('sha256').update(data).digest('hex'),
      data,
      platformMediaId: null,
      platformChannelId: null,
      platformExpiresAt: null,
      createdAt: now,
    })
    .execute();
  return { id, mime, size: data.length };
}

export async function getMedia(ctx: AppContext, workspaceId: string, id: string) {
  const row = await ctx.db
    .selectFrom('media')
    .selectAll()
    .where('id', '=', id)
    .where('workspaceId', '=', workspaceId)
    .executeTakeFirst();
  if (!row) throw new AppError('MEDIA_NOT_FOUND');
  return row;
}
