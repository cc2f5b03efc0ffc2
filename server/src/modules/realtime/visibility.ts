import type { RealtimeEventName, Role } from '@kefu/shared';
import type { Queryable } from '../../db/index';
import { isSupervising } from '../agents/auth';
import { tick, type StreamTail, type WireFrame } from './stream-tail';

/** What decides which events an agent's sockets may see (the REST rules, in memory). */
export interface Access {
  /** False when the agent is gone or disabled: their sockets must close. */
  live: boolean;
  role: Role;
  channels: Set<string>;
}

/** The event every write that changes an agent's access commits with it. */
export const ACCESS_CHANGED = 'agent.access_changed' satisfies RealtimeEventName;

const CHUNK = 500;

/** One agent with sockets on this node. Replaced, never reused, when they come back. */
interface Entry {
  id: string;
  sockets: number;
  /** Undefined until the first load. */
  access: Access | undefined;
  /** The `tick()` taken when the load behind `access` began. */
  loadedAt: number;
  /** Change frames for this agent that `access` may not reflect yet, in sequence order. */
  changes: { seq: number; readAt: number }[];
}

/**
 * Which agent may see which event, for the agents with sockets in one workspace: role and channel
 * bindings, loaded once per agent when their first socket arrives, and again only when the
 * stream says their access changed.
 *
 * Invariant: no socket gets an event its agent could not fetch over REST at that time. Why it
 * holds:
 * 1. Every write that changes an agent's access (bindings, role, disabled) commits an
 *    `agent.access_changed` event for them in the same transaction. Sequence order is commit
 *    order, so a change committed before event X has a smaller sequence than X.
 * 2. A load is stamped with `tick()` before its query, and runs only once the tail's window is
 *    open. It sees every change committed before its stamp.
 * 3. A change the load may have missed committed after the stamp, so after everything the tail
 *    held then: its sequence is past the tail's end at that moment. The tail therefore appends it
 *    later, from a read that returned after the stamp (`readAt` > stamp), and tells this view
 *    (`onAppend`), which records it against the agent (if they have sockets; if not, their first
 *    load comes later and sees it). Conversely a change frame with `readAt` < stamp committed
 *    before the load began and is in it: that is how a load clears what was recorded.
 * 4. `flushTail` never passes an agent's oldest recorded change: frames from its sequence on wait
 *    for the reload (`ensure`), so each frame is judged by access that reflects every change with
 *    a smaller sequence. Changes before the window (a back-fill) committed before it opened, so
 *    before any load of this view.
 * An entry dropped (last socket gone) and made again gets its own load: a load only fills in the
 * entries it started for, since changes while the agent had no entry were not recorded.
 */
export class VisibilityView {
  private readonly agents = new Map<string, Entry>();
  /** Entries with recorded changes: what a pump reloads before it sends. */
  private readonly stale = new Set<Entry>();
  /** Entries the next load takes. */
  private wanted = new Set<Entry>();
  /** A load not started yet: whatever is wanted until it starts goes into it. */
  private next: Promise<void> | null = null;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Queryable,
    private readonly workspaceId: string,
    private readonly tail: StreamTail,
  ) {
    tail.onAppend = (frame) => this.appended(frame);
  }

  /** Counts a socket of `agentId` (its access is loaded by `ensure` or `request`). */
  add(agentId: string): void {
    const e = this.agents.get(agentId);
    if (e) return void e.sockets++;
    this.agents.set(agentId, {
      id: agentId,
      sockets: 1,
      access: undefined,
      loadedAt: 0,
      changes: [],
    });
  }

  /** Uncounts a socket; the agent's access goes with their last one. */
  remove(agentId: string): void {
    const e = this.agents.get(agentId);
    if (!e || --e.sockets > 0) return;
    this.agents.delete(agentId);
    this.stale.delete(e);
    this.wanted.delete(e);
  }

  /** The agent's access as last loaded (undefined until their first load). */
  of(agentId: string): Access | undefined {
    return this.agents.get(agentId)?.access;
  }

  /** Frames from this sequence on must wait for the agent's next load (Infinity: none need to). */
  staleFrom(agentId: string): number {
    return this.agents.get(agentId)?.changes[0]?.seq ?? Infinity;
  }

  private appended(frame: WireFrame): void {
    if (frame.name !== ACCESS_CHANGED || !frame.agentId) return;
    const e = this.agents.get(frame.agentId);
    if (!e) return;
    e.changes.push({ seq: frame.seq, readAt: frame.readAt });
    this.stale.add(e);
  }

  private needsLoad(e: Entry): boolean {
    return e.access === undefined || e.changes.length > 0;
  }

  /** Starts loading an agent's access without waiting (a socket's hello, ahead of its resume). */
  request(agentId: string): void {
    const e = this.agents.get(agentId);
    if (!e || !this.needsLoad(e)) return;
    this.wanted.add(e);
    // A failure here is retried by the `ensure` the socket's resume awaits.
    this.schedule().catch(() => undefined);
  }

  /**
   * Resolves once each agent named (by default: each with a recorded change) has access that
   * reflects every change frame the tail has appended so far. Loads are batched: one runs at a
   * time and the next takes everyone who asked meanwhile, so a storm of resumes costs a few
   * queries, not one per socket.
   */
  async ensure(agentIds?: Iterable<string>): Promise<void> {
    for (;;) {
      const need: Entry[] = [];
      if (agentIds) {
        for (const id of agentIds) {
          const e = this.agents.get(id);
          if (e && this.needsLoad(e)) need.push(e);
        }
      } else need.push(...this.stale);
      if (need.length === 0) return;
      for (const e of need) this.wanted.add(e);
      await this.schedule();
    }
  }

  private schedule(): Promise<void> {
    if (this.next) return this.next;
    const next = this.running.then(() => {
      this.next = null;
      return this.load();
    });
    this.next = next;
    this.running = next.catch(() => undefined);
    return next;
  }

  private async load(): Promise<void> {
    // Point 2 above: a change committed before the window opened would never be appended.
    if (!this.tail.ready) throw new Error('visibility loaded before the stream window opened');
    const batch = [...this.wanted].filter((e) => this.agents.get(e.id) === e);
    this.wanted = new Set();
    if (batch.length === 0) return;
    const stamp = tick();
    const next = new Map<string, Access>();
    for (let i = 0; i < batch.length; i += CHUNK) {
      const rows = await this.db
        .selectFrom('agents')
        .leftJoin('channelAgents', 'channelAgents.agentId', 'agents.id')
        .select(['agents.id', 'agents.role', 'agents.disabled', 'channelAgents.channelId'])
        .where('agents.workspaceId', '=', this.workspaceId)
        .where(
          'agents.id',
          'in',
          batch.slice(i, i + CHUNK).map((e) => e.id),
        )
        .execute();
      for (const r of rows) {
        let a = next.get(r.id);
        if (!a) next.set(r.id, (a = { live: !r.disabled, role: r.role, channels: new Set() }));
        if (r.channelId) a.channels.add(r.channelId);
      }
    }
    for (const e of batch) {
      if (this.agents.get(e.id) !== e || stamp <= e.loadedAt) continue;
      e.access = next.get(e.id) ?? { live: false, role: 'agent', channels: new Set() };
      e.loadedAt = stamp;
      // Point 3: changes read before the stamp are in this load (frames arrive in readAt order).
      let k = 0;
      while (k < e.changes.length && e.changes[k]!.readAt < stamp) k++;
      if (k > 0) e.changes.splice(0, k);
      if (e.changes.length === 0) this.stale.delete(e);
    }
  }
}

/** Whether an agent with `access` may see `frame` (the same rule as listing conversations). */
export function mayView(agentId: string, access: Access, frame: WireFrame): boolean {
  if (frame.agentId) return frame.agentId === agentId;
  return !frame.channelId || isSupervising(access.role) || access.channels.has(frame.channelId);
}
