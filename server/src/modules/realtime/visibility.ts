import type { Role } from '@kefu/shared';
import type { Queryable } from '../../db/index';
import { isSupervising } from '../agents/auth';
import { tick, type WireFrame } from './stream-tail';

/** What decides which events an agent's sockets may see (the REST rules, in memory). */
export interface Access {
  /** False when the agent is gone or disabled: their sockets must close. */
  live: boolean;
  role: Role;
  channels: Set<string>;
}

const CHUNK = 500;

/**
 * Which agent may see which event, for the agents with sockets in one workspace: role and channel
 * bindings, one query for all of them. A frame is only judged by a view loaded after the read that
 * fetched it returned, so an unbinding or a role change committed before an event is always seen
 * before that event is delivered: no socket ever gets an event its agent could not fetch.
 */
export class VisibilityView {
  private readonly access = new Map<string, Access>();
  /** Sockets per agent on this node: the agents worth loading. */
  private readonly agents = new Map<string, number>();
  private unloaded = 0;
  loadedAt = 0;
  private loading: { stamp: number; promise: Promise<void> } | null = null;

  constructor(
    private readonly db: Queryable,
    private readonly workspaceId: string,
  ) {}

  add(agentId: string): void {
    const n = this.agents.get(agentId) ?? 0;
    this.agents.set(agentId, n + 1);
    if (!this.access.has(agentId)) this.unloaded++;
  }

  remove(agentId: string): void {
    const n = (this.agents.get(agentId) ?? 1) - 1;
    if (n > 0) return void this.agents.set(agentId, n);
    this.agents.delete(agentId);
    if (!this.access.delete(agentId)) this.unloaded = Math.max(0, this.unloaded - 1);
  }

  /** The agent's access as last loaded (undefined until their first load). */
  of(agentId: string): Access | undefined {
    return this.access.get(agentId);
  }

  /** Resolves once the view was loaded after `readAt` for every agent with a socket. */
  ensure(readAt: number): Promise<void> {
    if (this.loadedAt > readAt && this.unloaded === 0) return Promise.resolve();
    // A load in flight may have started too early, or missed an agent added since: check again.
    if (this.loading) return this.loading.promise.then(() => this.ensure(readAt));
    const stamp = tick();
    const promise = this.load(stamp).finally(() => {
      this.loading = null;
    });
    this.loading = { stamp, promise };
    return promise;
  }

  private async load(stamp: number): Promise<void> {
    const ids = new Set(this.agents.keys());
    const list = [...ids];
    const next = new Map<string, Access>();
    for (let i = 0; i < list.length; i += CHUNK) {
      const rows = await this.db
        .selectFrom('agents')
        .leftJoin('channelAgents', 'channelAgents.agentId', 'agents.id')
        .select(['agents.id', 'agents.role', 'agents.disabled', 'channelAgents.channelId'])
        .where('agents.workspaceId', '=', this.workspaceId)
        .where('agents.id', 'in', list.slice(i, i + CHUNK))
        .execute();
      for (const r of rows) {
        let a = next.get(r.id);
        if (!a) next.set(r.id, (a = { live: !r.disabled, role: r.role, channels: new Set() }));
        if (r.channelId) a.channels.add(r.channelId);
      }
    }
    // Agents whose sockets came or went during the load are counted afresh.
    this.access.clear();
    let unloaded = 0;
    for (const id of this.agents.keys()) {
      if (ids.has(id))
        this.access.set(id, next.get(id) ?? { live: false, role: 'agent', channels: new Set() });
      else unloaded++;
    }
    this.unloaded = unloaded;
    this.loadedAt = Math.max(this.loadedAt, stamp);
  }
}

/** Whether an agent with `access` may see `frame` (the same rule as listing conversations). */
export function mayView(agentId: string, access: Access, frame: WireFrame): boolean {
  if (frame.agentId) return frame.agentId === agentId;
  return !frame.channelId || isSupervising(access.role) || access.channels.has(frame.channelId);
}
