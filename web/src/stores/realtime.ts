import type { RealtimeEvent, ServerFrame } from '@kefu/shared';
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { api } from '../api';
import { observeServerTime } from '../lib/clock';
import { remind } from '../lib/reminders';
import { RealtimeSocket, type SocketState } from '../realtime/socket';
import { useConversationsStore } from './conversations';
import { useMessagesStore } from './messages';
import { useSessionStore } from './session';

type EventFrame = Extract<ServerFrame, { type: 'event' }>;

/**
 * Keeps the stores in step with the server. The first connection loads a REST snapshot and
 * resumes from the `hello` seq recorded before fetching; reconnections resume from the last
 * applied seq (the server replays what was missed) or, on `resync`, refetch everything. Events
 * that arrive while a snapshot loads are buffered; any seq already applied is skipped, so
 * nothing is lost or applied twice.
 */
export const useRealtimeStore = defineStore('realtime', () => {
  const session = useSessionStore();
  const conversations = useConversationsStore();
  const messages = useMessagesStore();

  const socketState = ref<SocketState>('closed');
  const syncing = ref(false);
  const everConnected = ref(false);
  const running = ref(false);

  let socket: RealtimeSocket | null = null;
  let lastSeq: number | null = null;
  let buffer: EventFrame[] = [];
  let connection = 0;
  let run = 0;

  /** The banner shows once a working connection was lost, until it is back. */
  const disconnected = computed(
    () => running.value && everConnected.value && socketState.value !== 'open',
  );

  function start(): void {
    if (socket) return;
    running.value = true;
    // No token: the upgrade carries the HttpOnly session cookie like any same-origin request.
    socket = new RealtimeSocket(() => null, {
      frame: (f) => void onFrame(f),
      state: (s) => {
        socketState.value = s;
        if (s !== 'open') connection += 1;
      },
      rejected: () => void api.me().catch(() => undefined),
    });
    socket.start();
    // Show the desk even if the socket is slow to come up; its `hello` refetches anyway.
    setTimeout(() => {
      if (running.value && lastSeq === null && !syncing.value)
        void fetchSnapshot().catch(() => undefined);
    }, 2500);
  }

  function stop(): void {
    socket?.stop();
    socket = null;
    running.value = false;
    everConnected.value = false;
    lastSeq = null;
    buffer = [];
  }

  function reconnectNow(): void {
    socket?.reconnectNow();
  }

  async function onFrame(frame: ServerFrame): Promise<void> {
    switch (frame.type) {
      case 'hello':
        everConnected.value = true;
        // The pong carries the server's clock (replayed events carry old times).
        socket?.send({ type: 'ping' });
        // A stream behind what we applied is a different stream (data reset): start over.
        if (lastSeq === null || frame.seq < lastSeq) await loadSnapshot(frame.seq, true);
        else socket?.send({ type: 'resume', lastSeq });
        break;
      case 'event':
        receive(frame);
        break;
      case 'resync':
        await loadSnapshot(frame.seq, false);
        break;
      case 'pong':
        observeServerTime(frame.at);
        break;
      case 'resumed':
        break;
    }
  }

  /**
   * The REST state of the desk: me, the queue, my open conversations, the one on screen. `lists`
   * refetches only me and the lists (my access changed: bindings decide what they hold); the
   * threads stay, kept current by the events buffered meanwhile.
   */
  async function fetchSnapshot(lists = false): Promise<void> {
    const selected = conversations.selectedId;
    const [me, queued, open, handedBack] = await Promise.all([
      api.me(),
      api.conversations({ state: 'queued', limit: 200 }),
      api.conversations({ state: 'open', mine: '1', limit: 200 }),
      api.conversations({ state: 'handed_back', limit: 200 }),
    ]);
    session.applyMe(me);
    conversations.applySnapshot([...queued.items, ...open.items, ...handedBack.items]);
    if (lists) return;
    messages.resetExcept(selected);
    if (selected) {
      await Promise.all([
        conversations.fetchOne(selected),
        messages.threads.has(selected) ? messages.loadLatest(selected, true) : undefined,
      ]);
    }
  }

  /** Refetch everything (or only the lists); afterwards continue from `seq`. */
  async function loadSnapshot(seq: number, thenResume: boolean, lists = false): Promise<void> {
    const conn = connection;
    const myRun = ++run;
    const stale = () => conn !== connection || myRun !== run;
    // While refetching nothing is applied: a new `hello` meanwhile starts over.
    lastSeq = null;
    buffer = [];
    syncing.value = true;
    try {
      await fetchSnapshot(lists);
      if (stale()) return;
      lastSeq = seq;
      syncing.value = false;
      const pending = buffer;
      buffer = [];
      // Through `receive`: one of them may start another refetch, which buffers the rest.
      for (const f of pending) receive(f);
      if (thenResume) socket?.send({ type: 'resume', lastSeq: seq });
    } catch {
      // Start over on a fresh connection, after the socket's backoff.
      if (!stale()) socket?.fail();
    } finally {
      if (myRun === run && lastSeq === null) {
        syncing.value = false;
        buffer = [];
      }
    }
  }

  function receive(frame: EventFrame): void {
    if (syncing.value) buffer.push(frame);
    else apply(frame);
  }

  function apply(frame: EventFrame): void {
    if (lastSeq !== null && frame.seq <= lastSeq) return;
    lastSeq = frame.seq;
    const { event } = frame;
    // What I may see changed (a binding added or removed): the lists as of this event, then the
    // events after it, buffered meanwhile, on top.
    if (event.name === 'agent.access_changed' && event.data.agentId === session.agent?.id)
      void loadSnapshot(frame.seq, false, true);
    else dispatch(event);
  }

  function dispatch(event: RealtimeEvent): void {
    const me = session.agent?.id;
    switch (event.name) {
      case 'conversation.queued':
      case 'conversation.assigned':
      case 'conversation.idled':
      case 'conversation.closed':
      case 'conversation.transferred':
      case 'conversation.updated': {
        const conv = event.data.conversation;
        const prev = conversations.upsert(conv);
        // Only the mini programs I serve remind me of their queue (the others wait unannounced).
        if (conv.state === 'queued' && prev?.state !== 'queued' && session.serves(conv.channelId))
          remind('queued', conv);
        const newlyMine = conv.agentId === me && conv.state === 'active' && prev?.agentId !== me;
        if (newlyMine && !conversations.isAccepting(conv.id)) {
          remind(event.name === 'conversation.transferred' ? 'transferred' : 'assigned', conv);
        }
        break;
      }
      case 'message.created': {
        const m = event.data.message;
        messages.upsert(m);
        const conv = conversations.byId[m.conversationId];
        if (m.direction === 'in' && conv && conv.agentId === me && conv.state === 'active') {
          const watching =
            conversations.selectedId === conv.id && document.visibilityState === 'visible';
          if (!watching) {
            conversations.bumpUnread(conv.id);
            remind('message', conv);
          }
        }
        break;
      }
      case 'message.updated':
        messages.upsert(event.data.message);
        break;
      case 'agent.status_changed':
        session.applyStatus(event.data.agentId, event.data.status);
        break;
      case 'agent.access_changed':
      case 'agent.typing':
        break;
    }
  }

  return { socketState, syncing, disconnected, start, stop, reconnectNow };
});
