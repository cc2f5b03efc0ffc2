import type { Agent, AgentStatus, Channel, QuickReply } from '@kefu/shared';
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { api, type Me, type MySettings } from '../api';
import { getToken, setToken } from '../api/http';

/** Who is signed in: the agent, their bound channels, quick replies and workspace. */
export const useSessionStore = defineStore('session', () => {
  const token = ref<string | null>(getToken());
  const agent = ref<Agent | null>(null);
  const channels = ref<Channel[]>([]);
  const quickReplies = ref<QuickReply[]>([]);
  const workspace = ref<Me['workspace'] | null>(null);

  const signedIn = computed(() => token.value !== null);
  const isAdmin = computed(() => agent.value?.role === 'owner' || agent.value?.role === 'admin');
  const status = computed<AgentStatus>(() => agent.value?.status ?? 'offline');

  async function login(loginName: string, password: string): Promise<void> {
    const res = await api.login(loginName, password);
    setToken(res.token);
    token.value = res.token;
    agent.value = res.agent;
    // Signing in puts an offline agent online, as WeChat's own tool does; an agent who is away
    // on another device stays away (status is one truth across devices).
    if (res.agent.status === 'offline') agent.value = await api.setStatus('online');
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
    setToken(null);
    token.value = null;
    agent.value = null;
    channels.value = [];
    quickReplies.value = [];
    workspace.value = null;
  }

  function channelName(id: string): string {
    return channels.value.find((c) => c.id === id)?.name ?? '';
  }

  return {
    token,
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
  };
});
