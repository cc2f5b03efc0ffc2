/** Browser notifications: the page API on desktop, the service worker where that is missing. */

export type OpenHandler = (url: string) => void;
let openHandler: OpenHandler | null = null;

export function setNotificationOpenHandler(handler: OpenHandler): void {
  openHandler = handler;
}

export function notificationsSupported(): boolean {
  return typeof Notification !== 'undefined';
}

export function notificationPermission(): NotificationPermission | 'unsupported' {
  return notificationsSupported() ? Notification.permission : 'unsupported';
}

export async function askNotificationPermission(): Promise<NotificationPermission | 'unsupported'> {
  if (!notificationsSupported()) return 'unsupported';
  if (Notification.permission !== 'default') return Notification.permission;
  return Notification.requestPermission();
}

export async function showNotification(
  title: string,
  body: string,
  url: string,
  tag: string,
): Promise<void> {
  if (!notificationsSupported() || Notification.permission !== 'granted') return;
  try {
    const n = new Notification(title, { body, tag, icon: '/icons/icon-192.png' });
    n.onclick = () => {
      window.focus();
      openHandler?.(url);
      n.close();
    };
  } catch {
    // Mobile browsers only allow notifications through the service worker.
    const reg = await navigator.serviceWorker?.getRegistration();
    await reg?.showNotification(title, { body, tag, icon: '/icons/icon-192.png', data: { url } });
  }
}
