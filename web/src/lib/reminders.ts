import type { Conversation } from '@kefu/shared';
import { t } from '../i18n';
import { usePrefsStore } from '../stores/prefs';
import { useSessionStore } from '../stores/session';
import { beep } from './beep';
import { showNotification } from './notify';

export type ReminderKind = 'queued' | 'assigned' | 'transferred' | 'message';

const titles: Record<Exclude<ReminderKind, 'message'>, string> = {
  queued: 'notify.queuedTitle',
  assigned: 'notify.assignedTitle',
  transferred: 'notify.transferredTitle',
};

function pageIsWatched(): boolean {
  return document.visibilityState === 'visible' && document.hasFocus();
}

/**
 * Tell an online agent something arrived: a chime and, when the page is not in front, a browser
 * notification. Away or offline agents get nothing (the design's rule).
 */
export function remind(kind: ReminderKind, conv: Conversation): void {
  const session = useSessionStore();
  const prefs = usePrefsStore();
  if (session.status !== 'online') return;
  if (prefs.sound) beep(kind === 'message' ? 'soft' : 'alert');
  if (kind === 'message' || !session.agent?.notifications || pageIsWatched()) return;
  const name = conv.customer.nickname ?? t('customer.anonymous');
  const body = t('notify.body', { name, text: conv.lastPreview });
  void showNotification(t(titles[kind]), body, `/desk/${conv.id}`, `kefu-${conv.id}`);
}
