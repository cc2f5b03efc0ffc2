import type { Conversation } from '@kefu/shared';
import { t } from '../i18n';
import { usePrefsStore } from '../stores/prefs';
import { useSessionStore } from '../stores/session';
import { beep } from './beep';
import { showNotification } from './notify';

export type ReminderKind = 'queued' | 'assigned' | 'transferred' | 'message';

const titles: Record<ReminderKind, string> = {
  queued: 'notify.queuedTitle',
  assigned: 'notify.assignedTitle',
  transferred: 'notify.transferredTitle',
  message: 'reminders2.messageTitle',
};

function pageIsWatched(): boolean {
  return document.visibilityState === 'visible' && document.hasFocus();
}

/**
 * Tell an online agent something arrived: a chime and, when the page is not in front, a browser
 * notification (also for a customer's new message in their own conversation, as the phone routes
 * do when the console is closed). Away or offline agents get nothing (the design's rule).
 */
export function remind(kind: ReminderKind, conv: Conversation): void {
  const session = useSessionStore();
  const prefs = usePrefsStore();
  if (session.status !== 'online') return;
  if (prefs.sound) beep(kind === 'message' ? 'soft' : 'alert');
  if (!session.agent?.notifications || pageIsWatched()) return;
  const name = conv.customer.nickname ?? t('customer.anonymous');
  // The conversation's preview may not include the new message yet, so a message names only who wrote.
  const body =
    kind === 'message'
      ? t('reminders2.messageBody', { name })
      : t('notify.body', { name, text: conv.lastPreview });
  void showNotification(t(titles[kind]), body, `/desk/${conv.id}`, `kefu-${conv.id}`);
}
