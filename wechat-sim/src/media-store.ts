import { randomBytes } from 'node:crypto';

/** Temporary media live 3 days (§3.5). */
export const MEDIA_TTL_MS = 3 * 24 * 3600_000;
/** Image upload cap (§3.5: the docs disagree, 2 MB is the safe value). */
export const IMAGE_MAX_BYTES = 2 * 1024 * 1024;

export interface MediaRecord {
  id: string;
  appId: string;
  bytes: Buffer;
  mime: string;
  createdAt: number;
}

/** JPEG, PNG or GIF by magic bytes; undefined for anything else. */
export function sniffImageMime(bytes: Buffer): string | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return 'image/jpeg';
  }
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (bytes.subarray(0, 8).equals(png)) return 'image/png';
  const head = bytes.subarray(0, 6).toString('latin1');
  if (head === 'GIF87a' || head === 'GIF89a') return 'image/gif';
  return undefined;
}

export function extensionOf(mime: string): string {
  if (mime === 'image/png') return 'png';
  if (mime === 'image/gif') return 'gif';
  return 'jpg';
}

/** Temporary media of every app. Bytes stay for /sim/media; the API sees them 3 days. */
export class MediaStore {
  private readonly byId = new Map<string, MediaRecord>();

  /** Kefu's uploads and the customers' images and card covers alike. */
  put(appId: string, bytes: Buffer, mime: string, now: number): MediaRecord {
    const rec: MediaRecord = {
      id: randomBytes(48).toString('base64url'),
      appId,
      bytes,
      mime,
      createdAt: now,
    };
    this.byId.set(rec.id, rec);
    return rec;
  }

  /** Any stored media regardless of age (the sim's own CDN-like URL). */
  get(id: string): MediaRecord | undefined {
    return this.byId.get(id);
  }

  /** Media usable through the API by this app: its own, and younger than 3 days. */
  live(appId: string, id: string, now: number): MediaRecord | undefined {
    const rec = this.byId.get(id);
    if (!rec || rec.appId !== appId || now >= rec.createdAt + MEDIA_TTL_MS) return undefined;
    return rec;
  }
}
