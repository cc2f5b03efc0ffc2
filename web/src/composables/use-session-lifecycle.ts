import { onMounted, onUnmounted, watch, watchEffect } from 'vue';
import { useI18n } from 'vue-i18n';
import { useRouter } from 'vue-router';
import { setUnauthorizedHandler } from '../api/http';
import { unlockAudio } from '../lib/beep';
import { setNotificationOpenHandler } from '../lib/notify';
import { subscribeToPush } from '../lib/push';
import { useConversationsStore } from '../stores/conversations';
import { useMessagesStore } from '../stores/messages';
import { useRealtimeStore } from '../stores/realtime';
import { useSessionStore } from '../stores/session';

/**
 * Everything that lives as long as the signed-in console: the realtime connection, the tab
 * title badge, notification clicks, Web Push, and the way out when the session expires.
 */
export function useSessionLifecycle(): { signOut: () => Promise<void> } {
  const session = useSessionStore();
  const conversations = useConversationsStore();
  const messages = useMessagesStore();
  const realtime = useRealtimeStore();
  const router = useRouter();
  const { t } = useI18n();

  function teardown(): void {
    realtime.stop();
    conversations.reset();
    messages.reset();
  }

  async function signOut(): Promise<void> {
    teardown();
    await session.logout().catch(() => undefined);
    await router.replace({ name: 'login' });
  }

  setUnauthorizedHandler(() => {
    if (!session.signedIn) return;
    teardown();
    session.clear();
    void router.replace({ name: 'login', query: { next: router.currentRoute.value.fullPath } });
  });
  setNotificationOpenHandler((url) => void router.push(url));

  const onSwMessage = (ev: MessageEvent<unknown>) => {
    const data = ev.data as { type?: string; url?: string } | null;
    if (data?.type === 'kefu-open' && data.url) void router.push(data.url);
  };

  onMounted(() => {
    realtime.start();
    window.addEventListener('pointerdown', unlockAudio, { once: true });
    navigator.serviceWorker?.addEventListener('message', onSwMessage);
  });
  onUnmounted(() => {
    navigator.serviceWorker?.removeEventListener('message', onSwMessage);
  });

  // "(N) 客服台": waiting customers plus my conversations with unread messages, while online.
  watchEffect(() => {
    const n = conversations.queue.length + conversations.unreadMine;
    const title = t('app.title');
    document.title = session.status === 'online' && n > 0 ? `(${n}) ${title}` : title;
  });

  watch(
    () => session.status === 'online' && session.agent?.notifications === true,
    (wanted) => {
      if (wanted) void subscribeToPush();
    },
    { immediate: true },
  );

  return { signOut };
}
