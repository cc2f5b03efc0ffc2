/* Kefu service worker: shows Web Push reminders and opens the desk when one is clicked.
 * It does not cache anything: the console needs the live server anyway. */

self.addEventListener('install', () => {
  self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

/** Payload: JSON {title, body, url?, tag?, conversationId?}; plain text is shown as the body. */
function readPayload(event) {
  if (!event.data) return {};
  try {
    return event.data.json();
  } catch {
    return { body: event.data.text() };
  }
}

self.addEventListener('push', (event) => {
  const data = readPayload(event);
  const url =
    data.url ||
    (data.conversationId ? `/desk/${encodeURIComponent(data.conversationId)}` : '/desk');
  const title = data.title || '客服台';
  event.waitUntil(
    self.registration.showNotification(title, {
      body: data.body || '',
      tag: data.tag || (data.conversationId ? `kefu-${data.conversationId}` : 'kefu'),
      icon: '/icons/icon-192.png',
      badge: '/icons/badge-72.png',
      renotify: true,
      data: { url },
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || '/desk';
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows.find((w) => new URL(w.url).origin === self.location.origin);
      if (open) {
        await open.focus();
        open.postMessage({ type: 'kefu-open', url });
        return;
      }
      await self.clients.openWindow(url);
    })(),
  );
});
