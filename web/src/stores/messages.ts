import type { Conversation, Message, SendMessageBody } from '@kefu/shared';
import { defineStore } from 'pinia';
import { markRaw, shallowReactive } from 'vue';
import { api } from '../api';
import { ApiError } from '../api/http';
import { newClientId } from '../lib/ids';
import { errorText } from '../lib/errors';
import { mergeMessages, upsertMessage } from '../lib/thread';

/** The loaded part of one conversation's message log, ascending by seq. */
export interface Thread {
  items: Message[];
  /** Older messages exist on the server. */
  hasMore: boolean;
  loading: boolean;
  loaded: boolean;
}

const PAGE = 50;
const OLDER_PAGE = 100;
const LOCAL_PREFIX = 'local:';

export const isLocal = (m: Message) => m.id.startsWith(LOCAL_PREFIX);

/**
 * Message threads per conversation. Items are immutable and not deeply reactive (a thread can
 * hold 10,000 messages): every change replaces the array. Outgoing messages appear at once as
 * local placeholders keyed by clientId, replaced by the server's message when it answers.
 */
export const useMessagesStore = defineStore('messages', () => {
  const threads = shallowReactive(new Map<string, Thread>());
  /** What to resend for a local placeholder whose POST never got an answer. */
  const unsent = new Map<
    string,
    { conversationId: string; body: SendMessageBody | null; file?: File }
  >();
  /** Object URLs of images being sent, by clientId, so the bubble shows them at once. */
  const previews = shallowReactive(new Map<string, string>());

  function thread(id: string): Thread {
    let t = threads.get(id);
    if (!t) {
      t = shallowReactive({ items: [], hasMore: true, loading: false, loaded: false });
      threads.set(id, t);
    }
    return t;
  }

  /** Apply a message from the server (event or response). Unloaded threads are skipped. */
  function upsert(m: Message): void {
    const t = threads.get(m.conversationId);
    if (!t) return;
    t.items = upsertMessage(t.items, markRaw(m));
    if (m.clientId && !isLocal(m)) unsent.delete(m.clientId);
  }

  /**
   * Apply the answer to a send. The realtime event that the message was sent (or failed) can
   * overtake that answer, which still says "pending": a copy that moved on is newer, keep it.
   */
  function applySendAnswer(m: Message): void {
    const items = threads.get(m.conversationId)?.items ?? [];
    for (let i = items.length - 1; i >= 0; i--) {
      const known = items[i];
      if (known?.id !== m.id) continue;
      if (known.delivery !== 'pending' && m.delivery === 'pending') {
        if (m.clientId) unsent.delete(m.clientId);
        return;
      }
      break;
    }
    upsert(m);
  }

  /** Fetch the newest page; `replace` drops what was loaded (it may have gaps after a resync). */
  async function loadLatest(conversationId: string, replace = false): Promise<void> {
    const t = thread(conversationId);
    t.loading = true;
    try {
      const page = await api.messages(conversationId, undefined, PAGE);
      const base = replace ? t.items.filter(isLocal) : t.items;
      t.items = mergeMessages(
        base,
        page.items.map((m) => markRaw(m)),
      );
      if (!t.loaded || replace) t.hasMore = page.items.length >= PAGE;
      t.loaded = true;
    } finally {
      t.loading = false;
    }
  }

  async function loadOlder(conversationId: string): Promise<void> {
    const t = thread(conversationId);
    const first = t.items.find((m) => !isLocal(m));
    if (t.loading || !t.hasMore || !first) return;
    t.loading = true;
    try {
      const page = await api.messages(conversationId, first.seq, OLDER_PAGE);
      t.items = mergeMessages(
        t.items,
        page.items.map((m) => markRaw(m)),
      );
      t.hasMore = page.items.length >= OLDER_PAGE;
    } finally {
      t.loading = false;
    }
  }

  /** Forget every thread but `keep` (after a resync their events may be missing). */
  function resetExcept(keep: string | null): void {
    for (const id of [...threads.keys()]) if (id !== keep) threads.delete(id);
  }

  function placeholder(
    conv: Conversation,
    clientId: string,
    body: Message['body'],
    kind: Message['kind'],
  ): Message {
    return markRaw({
      id: LOCAL_PREFIX + clientId,
      conversationId: conv.id,
      customerId: conv.customer.id,
      seq: Number.POSITIVE_INFINITY,
      direction: 'out',
      sender: 'agent',
      agentId: null,
      kind,
      body,
      mediaId: null,
      clientId,
      delivery: 'pending',
      errorCode: null,
      errorReason: null,
      createdAt: Date.now(),
      sentAt: null,
    } satisfies Message);
  }

  function replaceLocal(
    clientId: string,
    conversationId: string,
    patch: Partial<Message> | null,
  ): void {
    const t = threads.get(conversationId);
    if (!t) return;
    const i = t.items.findIndex((m) => m.clientId === clientId && isLocal(m));
    if (i < 0) return;
    const items = t.items.slice();
    const current = items[i];
    if (patch && current) items[i] = markRaw({ ...current, ...patch });
    else items.splice(i, 1);
    t.items = items;
  }

  /**
   * POST a message. A refusal (4xx: window, quota, sensitive word…) removes the placeholder and
   * is rethrown for the composer to show; a lost request leaves a failed placeholder to retry
   * with the same clientId, which the server deduplicates.
   */
  async function deliver(conversationId: string, body: SendMessageBody): Promise<void> {
    unsent.set(body.clientId, { conversationId, body });
    try {
      applySendAnswer(await api.send(conversationId, body));
    } catch (err) {
      if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
        unsent.delete(body.clientId);
        replaceLocal(body.clientId, conversationId, null);
        throw err;
      }
      replaceLocal(body.clientId, conversationId, {
        delivery: 'failed',
        errorReason: errorText(err),
      });
    }
  }

  async function sendText(conv: Conversation, text: string): Promise<void> {
    const clientId = newClientId();
    thread(conv.id);
    upsert(placeholder(conv, clientId, { text }, 'text'));
    await deliver(conv.id, { kind: 'text', clientId, text });
  }

  async function sendImage(conv: Conversation, file: File): Promise<void> {
    const clientId = newClientId();
    thread(conv.id);
    previews.set(clientId, URL.createObjectURL(file));
    upsert(placeholder(conv, clientId, {}, 'image'));
    await uploadAndDeliver(conv.id, clientId, file);
  }

  async function uploadAndDeliver(
    conversationId: string,
    clientId: string,
    file: File,
  ): Promise<void> {
    let mediaId: string;
    try {
      mediaId = (await api.upload(file)).id;
    } catch (err) {
      if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
        replaceLocal(clientId, conversationId, null);
        throw err;
      }
      unsent.set(clientId, { conversationId, body: null, file });
      replaceLocal(clientId, conversationId, { delivery: 'failed', errorReason: errorText(err) });
      return;
    }
    await deliver(conversationId, { kind: 'image', clientId, mediaId });
  }

  /**
   * A mini-program card (小程序卡片), its cover uploaded first when one is given; the server
   * turns the cover into WeChat's thumb_media_id when it sends.
   */
  async function sendCard(
    conv: Conversation,
    card: { title: string; pagePath: string; appId?: string },
    cover: File | null,
  ): Promise<void> {
    const clientId = newClientId();
    thread(conv.id);
    upsert(
      placeholder(conv, clientId, { card: { ...card, thumbMediaId: null } }, 'miniprogrampage'),
    );
    let thumbMediaId: string | null = null;
    if (cover) {
      try {
        thumbMediaId = (await api.upload(cover)).id;
      } catch (err) {
        replaceLocal(clientId, conv.id, null);
        throw err;
      }
    }
    await deliver(conv.id, { kind: 'miniprogrampage', clientId, card: { ...card, thumbMediaId } });
  }

  /** A link card (title, description, URL and picture, all public http(s)). */
  async function sendLink(
    conv: Conversation,
    link: { title: string; description: string; url: string; thumbUrl: string },
  ): Promise<void> {
    const clientId = newClientId();
    thread(conv.id);
    upsert(placeholder(conv, clientId, { link }, 'link'));
    await deliver(conv.id, { kind: 'link', clientId, link });
  }

  /** Retry a failed message: resend a lost local one, or ask the server to retry its own. */
  async function retry(m: Message): Promise<void> {
    if (!isLocal(m)) {
      upsert(await api.retry(m.id));
      return;
    }
    const job = m.clientId ? unsent.get(m.clientId) : undefined;
    if (!job || !m.clientId) return;
    replaceLocal(m.clientId, m.conversationId, { delivery: 'pending', errorReason: null });
    if (job.body) await deliver(job.conversationId, job.body);
    else if (job.file) await uploadAndDeliver(job.conversationId, m.clientId, job.file);
  }

  function reset(): void {
    threads.clear();
    unsent.clear();
    for (const url of previews.values()) URL.revokeObjectURL(url);
    previews.clear();
  }

  return {
    threads,
    previews,
    thread,
    upsert,
    loadLatest,
    loadOlder,
    resetExcept,
    sendText,
    sendImage,
    sendCard,
    sendLink,
    retry,
    reset,
  };
});
