import type { CardContent, ImageBlob, InboxItem, TimelineItem } from './types';

/** JSON shape of an image: a URL on the sim instead of the bytes. */
export interface ImageView {
  url: string;
  mime: string;
  size: number;
}

function imageView(mediaId: string | undefined, image: ImageBlob | undefined) {
  if (!mediaId || !image) return undefined;
  return { url: `/sim/media/${mediaId}`, mime: image.mime, size: image.bytes.length };
}

function cardView(card: CardContent | undefined) {
  if (!card) return undefined;
  const { thumb, ...rest } = card;
  return { ...rest, thumb: imageView(card.thumbMediaId, thumb) };
}

/** A timeline entry for /sim/api/timeline (bytes replaced by /sim/media URLs). */
export function timelineView(item: TimelineItem) {
  return { ...item, image: imageView(item.mediaId, item.image), card: cardView(item.card) };
}

/** An inbox entry for /sim/api/inbox. */
export function inboxView(item: InboxItem) {
  return { ...item, image: imageView(item.mediaId, item.image), card: cardView(item.card) };
}
