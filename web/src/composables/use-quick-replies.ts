import type { QuickReply } from '@kefu/shared';
import { computed, ref, type Ref } from 'vue';
import { useSessionStore } from '../stores/session';

/** The `/word` just before the caret, if the agent is typing a quick-reply shortcut. */
function slashQuery(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret);
  const m = /(^|\s)\/([^\s/]*)$/.exec(before);
  if (!m) return null;
  return { start: before.length - (m[2]?.length ?? 0) - 1, query: m[2] ?? '' };
}

/**
 * Quick replies inserted with `/`: typing `/hi` opens a list filtered by shortcut (then by
 * text); ↑/↓ choose, Enter or Tab insert, Esc closes.
 */
export function useQuickReplies(text: Ref<string>, caret: Ref<number>) {
  const session = useSessionStore();
  const forced = ref(false);
  const dismissed = ref<string | null>(null);
  const active = ref(0);

  const match = computed(() => slashQuery(text.value, caret.value));
  const open = computed(() => {
    if (forced.value) return true;
    return match.value !== null && dismissed.value !== text.value;
  });
  const items = computed<QuickReply[]>(() => {
    const q = (forced.value ? '' : (match.value?.query ?? '')).toLowerCase();
    const all = session.quickReplies;
    if (!q) return all;
    const byShortcut = all.filter((r) => r.shortcut.toLowerCase().startsWith(q));
    const rest = all.filter(
      (r) =>
        !byShortcut.includes(r) &&
        (r.shortcut.toLowerCase().includes(q) || r.text.toLowerCase().includes(q)),
    );
    return [...byShortcut, ...rest];
  });

  function close(): void {
    forced.value = false;
    dismissed.value = text.value;
    active.value = 0;
  }

  function toggle(): void {
    forced.value = !forced.value;
    active.value = 0;
  }

  function move(delta: number): void {
    const n = items.value.length;
    if (n > 0) active.value = (active.value + delta + n) % n;
  }

  /** The new text and caret after inserting `reply` in place of the typed `/word`. */
  function insert(reply: QuickReply): { text: string; caret: number } {
    const m = forced.value ? null : match.value;
    const start = m ? m.start : caret.value;
    const end = caret.value;
    const next = text.value.slice(0, start) + reply.text + text.value.slice(end);
    forced.value = false;
    active.value = 0;
    return { text: next, caret: start + reply.text.length };
  }

  return { open, items, active, close, toggle, move, insert };
}
