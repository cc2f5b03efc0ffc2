import type { Conversation } from '@kefu/shared';
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { api } from '../api';
import { ApiError } from '../api/http';
import { useDeskStore } from './desk';
import { useSessionStore } from './session';

const byQueuedAt = (a: Conversation, b: Conversation) =>
  (a.queuedAt ?? a.createdAt) - (b.queuedAt ?? b.createdAt);
const byRecent = (a: Conversation, b: Conversation) => b.lastMessageAt - a.lastMessageAt;

/**
 * Every conversation the desk knows, keyed by id. Realtime events carry whole conversations, so
 * applying one is an upsert; the waiting queue and "mine" are views over the same map.
 */
export const useConversationsStore = defineStore('conversations', () => {
  const session = useSessionStore();
  const desk = useDeskStore();
  const byId = ref<Record<string, Conversation>>({});
  const unread = ref<Record<string, number>>({});
  /** Conversations this agent tried to accept and lost: who won. */
  const takenBy = ref<Record<string, string>>({});
  const selectedId = ref<string | null>(null);
  /** Ids this tab is accepting now: their `assigned` event is not a reminder. */
  const accepting = new Set<string>();

  const all = computed(() => Object.values(byId.value));
  /** Every waiting conversation I may see. */
  const queueAll = computed(() => all.value.filter((c) => c.state === 'queued').sort(byQueuedAt));
  /** The queue as the desk lists it, through the queue filter. */
  const queue = computed(() => {
    const f = desk.queueFilter;
    if (f === 'all') return queueAll.value;
    if (f === 'serving') return queueAll.value.filter((c) => session.serves(c.channelId));
    return queueAll.value.filter((c) => c.channelId === f);
  });
  const mine = computed(() => {
    const me = session.agent?.id;
    return all.value
      .filter((c) => c.agentId === me && (c.state === 'active' || c.state === 'idle'))
      .sort(byRecent);
  });
  /** With WeChat's own tool (移交微信客服): Kefu only records them. */
  const handedBack = computed(() =>
    all.value.filter((c) => c.state === 'handed_back').sort(byRecent),
  );
  const selected = computed(() => (selectedId.value ? byId.value[selectedId.value] : undefined));
  const unreadMine = computed(() => mine.value.filter((c) => (unread.value[c.id] ?? 0) > 0).length);

  /** Insert or replace; returns what was there before. */
  function upsert(conv: Conversation): Conversation | undefined {
    const prev = byId.value[conv.id];
    byId.value[conv.id] = conv;
    if (conv.state === 'closed') delete unread.value[conv.id];
    return prev;
  }

  /** Replace the open conversations with a fresh snapshot; keeps the one on screen. */
  function applySnapshot(list: Conversation[]): void {
    const next: Record<string, Conversation> = {};
    for (const c of list) next[c.id] = c;
    const keep = selectedId.value ? byId.value[selectedId.value] : undefined;
    if (keep && !next[keep.id]) next[keep.id] = keep;
    byId.value = next;
    for (const id of Object.keys(unread.value)) if (!next[id]) delete unread.value[id];
  }

  async function fetchOne(id: string): Promise<Conversation> {
    const conv = await api.conversation(id);
    upsert(conv);
    return conv;
  }

  /** Accept a waiting conversation, or re-accept an idle one of mine. */
  async function accept(id: string): Promise<Conversation> {
    accepting.add(id);
    setTimeout(() => accepting.delete(id), 10_000);
    try {
      const conv = await api.accept(id);
      upsert(conv);
      delete takenBy.value[id];
      return conv;
    } catch (err) {
      if (err instanceof ApiError && err.code === 'CONV_ALREADY_TAKEN') {
        const name = err.details['agentName'];
        takenBy.value[id] = typeof name === 'string' ? name : '';
        await fetchOne(id).catch(() => undefined);
      }
      throw err;
    }
  }

  async function close(id: string): Promise<void> {
    upsert(await api.close(id));
  }

  /** 移交微信客服: WeChat's own tool takes the customer's next messages. */
  async function handBack(id: string): Promise<void> {
    upsert(await api.handBack(id));
  }

  /** 收回: back from WeChat's tool into the queue. */
  async function takeBack(id: string): Promise<void> {
    upsert(await api.takeBack(id));
  }

  async function transfer(id: string, agentId: string, note?: string): Promise<void> {
    upsert(await api.transfer(id, agentId, note));
  }

  function select(id: string | null): void {
    selectedId.value = id;
    if (id) delete unread.value[id];
  }

  function bumpUnread(id: string): void {
    unread.value[id] = (unread.value[id] ?? 0) + 1;
  }

  function isAccepting(id: string): boolean {
    return accepting.has(id);
  }

  function reset(): void {
    byId.value = {};
    unread.value = {};
    takenBy.value = {};
    selectedId.value = null;
  }

  return {
    byId,
    unread,
    takenBy,
    selectedId,
    queue,
    queueAll,
    handedBack,
    mine,
    selected,
    unreadMine,
    upsert,
    applySnapshot,
    fetchOne,
    accept,
    close,
    handBack,
    takeBack,
    transfer,
    select,
    bumpUnread,
    isAccepting,
    reset,
  };
});
