import { LIMITS } from '@kefu/shared';
import { createHash } from 'node:crypto';
import type { AppContext } from '../../context';
import type { Queryable } from '../../db/index';
import { AppError } from '../../errors';
import { newId } from '../../lib/ids';
import { isSupervising, type Caller } from '../agents/auth';

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

/**
 * Markup a browser's sniffer (it reads the first 512 bytes) or a careless viewer could take for a
 * document. No genuine photo carries these as text near its start; a polyglot does.
 */
// Only patterns of 4+ characters: shorter ones (`<a `) turn up by chance in compressed pixels.
const MARKUP =
  /<(?:script|html|svg|\?xml|body|head|iframe|object|embed|meta|!doctype)|javascript:/i;
const MARKUP_SCAN_BYTES = 4096;

function pngIsWhole(d: Buffer): boolean {
  // The IHDR chunk first (length 13 at byte 8), the 12-byte IEND chunk last.
  const ihdr =
    d.length >= 33 && d.readUInt32BE(8) === 13 && d.toString('latin1', 12, 16) === 'IHDR';
  const end = d.subarray(d.length - 12);
  return ihdr && end.readUInt32BE(0) === 0 && end.toString('latin1', 4, 8) === 'IEND';
}

function gifIsWhole(d: Buffer): boolean {
  // A logical screen of non-zero size, and the trailer 0x3B as the very last byte.
  if (d.length < 14) return false;
  return d.readUInt16LE(6) > 0 && d.readUInt16LE(8) > 0 && d[d.length - 1] === 0x3b;
}

function jpegIsWhole(d: Buffer): boolean {
  return d.length >= 4 && d[d.length - 2] === 0xff && d[d.length - 1] === 0xd9;
}

/**
 * The image type when `data` is a whole JPEG, PNG or GIF and nothing else: magic bytes, then
 * enough structure to be sure (a start and an end where the format puts them), and no markup in
 * the first KB. A GIF/HTML polyglot starts like a GIF but is refused here.
 */
export function validateImage(data: Buffer): string | null {
  const mime = sniffImage(data);
  if (!mime) return null;
  const whole =
    mime === 'image/png'
      ? pngIsWhole(data)
      : mime === 'image/gif'
        ? gifIsWhole(data)
        : jpegIsWhole(data);
  if (!whole) return null;
  if (MARKUP.test(data.subarray(0, MARKUP_SCAN_BYTES).toString('latin1'))) return null;
  return mime;
}

/**
 * Stores an image in the database (shared by every node), checked by structure and size; an
 * upload records its agent (`uploadedBy`) so they may read it back. Inbound media comes through
 * here too (the outbox worker), so a polyglot from the platform side is refused the same way.
 */
export async function storeImage(
  db: Queryable,
  now: number,
  workspaceId: string,
  data: Buffer,
  owner: { uploadedBy: string } | { channelId: string },
  maxBytes: number = LIMITS.imageMaxBytes,
): Promise<{ id: string; mime: string; size: number }> {
  if (data.length > maxBytes) throw new AppError('MEDIA_TOO_LARGE');
  const mime = validateImage(data);
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
      uploadedBy: 'uploadedBy' in owner ? owner.uploadedBy : null,
      channelId: 'channelId' in owner ? owner.channelId : null,
      createdAt: now,
    })
    .execute();
  return { id, mime, size: data.length };
}

/**
 * Whether an agent without supervision may read the image: it came in on a channel they are
 * bound to, or a message of such a channel carries it (an image a colleague sent there).
 */
async function inBoundChannel(
  ctx: AppContext,
  caller: Caller,
  media: { id: string; channelId: string | null },
): Promise<boolean> {
  const bound = ctx.db
    .selectFrom('channelAgents')
    .select('channelId')
    .where('agentId', '=', caller.agentId);
  if (media.channelId !== null) {
    const row = await bound.where('channelId', '=', media.channelId).executeTakeFirst();
    if (row) return true;
  }
  const carried = await ctx.db
    .selectFrom('messages')
    .select('id')
    .where('mediaId', '=', media.id)
    .where('workspaceId', '=', caller.workspaceId)
    .where('channelId', 'in', bound)
    .executeTakeFirst();
  return carried !== undefined;
}

/**
 * Whether the caller may read an image: supervisors and admins any of their workspace's; agents
 * their own uploads, and images that came in on, or were sent to, channels they are bound to.
 * Anything else is 404, as if it did not exist, so ids cannot be probed.
 */
export async function assertMediaReadable(
  ctx: AppContext,
  caller: Caller,
  id: string,
): Promise<void> {
  const row = await ctx.db
    .selectFrom('media')
    .select(['id', 'uploadedBy', 'channelId'])
    .where('id', '=', id)
    .where('workspaceId', '=', caller.workspaceId)
    .executeTakeFirst();
  if (!row) throw new AppError('MEDIA_NOT_FOUND');
  if (isSupervising(caller.role) || row.uploadedBy === caller.agentId) return;
  if (await inBoundChannel(ctx, caller, row)) return;
  throw new AppError('MEDIA_NOT_FOUND');
}

/** The image itself, once assertMediaReadable allowed it. */
export async function getMedia(ctx: AppContext, caller: Caller, id: string) {
  await assertMediaReadable(ctx, caller, id);
  return ctx.db
    .selectFrom('media')
    .selectAll()
    .where('id', '=', id)
    .where('workspaceId', '=', caller.workspaceId)
    .executeTakeFirstOrThrow();
}
