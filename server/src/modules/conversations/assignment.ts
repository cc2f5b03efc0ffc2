import type { AppContext, Unit } from '../../context';
import { agentName, tryTransition } from './lifecycle';
import { conversationStorage } from './storage';
import { recordAudit } from '../audit/audit-service';

export interface Candidate {
  agentId: string;
  active: number;
  capacity: number;
  lastAssignedAt: number;
}

/**
 * Who gets the next waiting conversation: the preferred (previous) agent if they are a candidate
 * with room; else the candidate with the fewest active conversations, ties going to the one who
 * has waited longest since their last assignment. Candidates are online, serving the channel and
 * auto-accepting.
 */
export function chooseAgent(
  candidates: Candidate[],
  preferredAgentId: string | null,
): string | null {
  const withRoom = candidates.filter((c) => c.active < c.capacity);
  const preferred = withRoom.find((c) => c.agentId === preferredAgentId);
  if (preferred) return preferred.agentId;
  const sorted = [...withRoom].sort(
    (a, b) =>
      a.active - b.active ||
      a.lastAssignedAt - b.lastAssignedAt ||
      (a.agentId < b.agentId ? -1 : 1),
  );
  return sorted[0]?.agentId ?? null;
}

/** Online, serving, auto-accepting agents of a channel with their current load. */
export async function loadCandidates(u: Unit, channelId: string): Promise<Candidate[]> {
  const rows = await u.tx
    .selectFrom('channelAgents as ca')
    .innerJoin('agents as a', 'a.id', 'ca.agentId')
    .select((eb) => [
      'a.id as agentId',
      'a.capacity',
      'a.lastAssignedAt',
      eb
        .selectFrom('conversations as c')
        .select((e) => e.fn.countAll<number>().as('n'))
        .whereRef('c.agentId', '=', 'a.id')
        .where('c.state', '=', 'active')
        .as('active'),
    ])
    .where('ca.channelId', '=', channelId)
    .where('ca.serving', '=', 1)
    .where('a.status', '=', 'online')
    .where('a.autoAccept', '=', 1)
    .where('a.disabled', '=', 0)
    .execute();
  return rows.map((r) => ({
    agentId: r.agentId,
    capacity: r.capacity,
    lastAssignedAt: Number(r.lastAssignedAt),
    active: Number(r.active ?? 0),
  }));
}

/**
 * Drains a channel's queue oldest-first while an auto-accepting agent has room. Serialized per
 * channel (storage.ts: an advisory lock on PostgreSQL; SQLite has one writer anyway), so two
 * nodes never hand the same conversation out twice or overfill an agent. The claim itself is the
 * lifecycle's, the same conditional update a manual accept makes: when an agent accepts by hand
 * first, this one is lost and the loop looks again.
 */
export async function drainQueue(
  ctx: AppContext,
  workspaceId: string,
  channelId: string,
): Promise<number> {
  let assigned = 0;
  for (;;) {
    const done = await ctx.transact(async (u) => {
      await conversationStorage(ctx.dialect).lockAssignment(u.tx, channelId);
      const next = await u.tx
        .selectFrom('conversations')
        .select([
          'id',
          'workspaceId',
          'channelId',
          'customerId',
          'state',
          'agentId',
          'preferredAgentId',
        ])
        .where('workspaceId', '=', workspaceId)
        .where('channelId', '=', channelId)
        .where('state', '=', 'queued')
        .orderBy('queuedAt')
        .orderBy('id')
        .limit(1)
        .executeTakeFirst();
      if (!next) return true;
      const agentId = chooseAgent(await loadCandidates(u, channelId), next.preferredAgentId);
      if (!agentId) return true;
      const claimed = await tryTransition(ctx, u, {
        action: 'auto_assign',
        conv: next,
        now: ctx.now(),
        to: { agentId, agentName: await agentName(u, agentId) },
      });
      if (claimed) {
        assigned++;
        await recordAudit(ctx, u, {
          workspaceId,
          actor: null,
          action: 'conversation.auto_assign',
          target: { type: 'conversation', id: next.id },
          details: { agentId },
        });
      }
      return false;
    });
    if (done) return assigned;
  }
}

/** Drains every channel an agent serves (they came online, raised capacity, freed a slot). */
export async function drainForAgent(
  ctx: AppContext,
  workspaceId: string,
  agentId: string,
): Promise<void> {
  const channels = await ctx.db
    .selectFrom('channelAgents')
    .select('channelId')
    .where('agentId', '=', agentId)
    .where('serving', '=', 1)
    .execute();
  for (const c of channels) await drainQueue(ctx, workspaceId, c.channelId);
}
