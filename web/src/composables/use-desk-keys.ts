import { onBeforeUnmount, onMounted } from 'vue';
import { useConversationsStore } from '../stores/conversations';
import { useDeskStore } from '../stores/desk';
import { useAccept } from './use-accept';

function typingInField(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName));
}

/**
 * Desk shortcuts: Alt+↑/↓ move between conversations of the current tab, Alt+A accepts the
 * oldest waiting customer, Ctrl+/ (or `/` outside a field) focuses the composer.
 */
export function useDeskKeys(
  open: (id: string) => void,
  focusComposer: (slash: boolean) => void,
): void {
  const conversations = useConversationsStore();
  const desk = useDeskStore();
  const { accept } = useAccept();

  function onKey(e: KeyboardEvent): void {
    if (e.isComposing) return;
    if (e.altKey && !e.ctrlKey && !e.metaKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
      e.preventDefault();
      const list = desk.tab === 'queue' ? conversations.queue : conversations.mine;
      if (list.length === 0) return;
      const i = list.findIndex((c) => c.id === conversations.selectedId);
      const step = e.key === 'ArrowDown' ? 1 : -1;
      const next =
        i < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, i + step));
      const target = list[next];
      if (target) open(target.id);
      return;
    }
    if (e.altKey && !e.ctrlKey && !e.metaKey && e.code === 'KeyA') {
      e.preventDefault();
      const oldest = conversations.queue[0];
      if (oldest) void accept(oldest.id);
      return;
    }
    if ((e.ctrlKey || e.metaKey) && e.key === '/') {
      e.preventDefault();
      focusComposer(false);
      return;
    }
    if (e.key === '/' && !e.ctrlKey && !e.metaKey && !e.altKey && !typingInField(e.target)) {
      e.preventDefault();
      focusComposer(true);
    }
  }

  onMounted(() => window.addEventListener('keydown', onKey));
  onBeforeUnmount(() => window.removeEventListener('keydown', onKey));
}
