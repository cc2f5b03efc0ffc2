import type { Agent, AgentStatus, Channel, QuickReply } from '@kefu/shared';
import { describeEntry } from '@kefu/shared/entry';
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { api, type Me, type MySettings } from '../api';
import { rememberSignedIn, wasSignedIn } from '../api/http';

/** Who is signed in: the agent, their bound channels, quick replies and workspace. */
export const useSessionStore = defineStore('session', () => {
  // Not a secret: the session itself is an HttpOnly cookie. A stale flag is corrected by the
  // first request that answers 401 (the unauthorized handler clears it).
  const signedInFlag = ref(wasSignedIn());
  const agent = ref<Agent | null>(null);
  const channels = ref<Channel[]>([]);
  const quickReplies = ref<QuickReply[]>([]);
  const workspace = ref<Me['workspace'] | null>(null);

  const signedIn = computed(() => signedInFlag.value);
  const isAdmin = computed(() => agent.value?.role === 'owner' || agent.value?.role === 'admin');
  const status = computed<AgentStatus>(() => agent.value?.status ?? 'offline');

  async function login(loginName: string, password: string): Promise<void> {
    const res = await api.login(loginName, password);
    // The response carries the token for scripts; the console relies on the cookie alone.
    rememberSignedIn(true);
    signedInFlag.value = true;
    agent.value = res.agent;
    // Signing in puts an offline agent online, as WeChat's own tool does, but only one who
    // serves customers (bound to a mini program and serving it): an owner or admin signing in
    // to configure must not become a transfer target or get reminders. An agent who is away on
    // another device stays away (status is one truth across devices).
    const servesCustomers = res.agent.channels.some((c) => c.serving);
    if (res.agent.status === 'offline' && servesCustomers)
      agent.value = await api.setStatus('online');
  }

  async function loadMe(): Promise<void> {
    applyMe(await api.me());
  }

  function applyMe(me: Me): void {
    agent.value = me.agent;
    channels.value = me.channels;
    quickReplies.value = me.quickReplies;
    workspace.value = me.workspace;
  }

  async function setStatus(next: AgentStatus): Promise<void> {
    agent.value = await api.setStatus(next);
  }

  async function updateSettings(body: MySettings): Promise<void> {
    agent.value = await api.updateMySettings(body);
  }

  /** A realtime status change (another tab or device, or the server's presence). */
  function applyStatus(agentId: string, next: AgentStatus): void {
    if (agent.value && agent.value.id === agentId) agent.value = { ...agent.value, status: next };
  }

  async function logout(): Promise<void> {
    try {
      await api.logout();
    } finally {
      clear();
    }
  }

  function clear(): void {
    rememberSignedIn(false);
    signedInFlag.value = false;
    agent.value = null;
    channels.value = [];
    quickReplies.value = [];
    workspace.value = null;
  }

  /** Whether I chose to serve this mini program (选择小程序帐号). */
  function serves(channelId: string): boolean {
    return agent.value?.channels.some((c) => c.channelId === channelId && c.serving) ?? false;
  }

  /** What a contact button's SessionFrom means, by the channel's entry patterns. */
  function entryLabel(channelId: string, sessionFrom: string): string {
    const patterns = channels.value.find((c) => c.id === channelId)?.entryPatterns ?? [];
    return describeEntry(sessionFrom, patterns)?.label ?? '';
  }

  function channelName(id: string): string {
    return channels.value.find((c) => c.id === id)?.name ?? '';
  }

  return {
    agent,
    channels,
    quickReplies,
    workspace,
    signedIn,
    isAdmin,
    status,
    login,
    loadMe,
    applyMe,
    setStatus,
    updateSettings,
    applyStatus,
    logout,
    clear,
    channelName,
    serves,
    entryLabel,
  };
});
