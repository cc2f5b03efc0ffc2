import { sql } from 'kysely';
import type { Dialect, Tx } from '../../db/index';

/**
 * The conversations area's only dialect branches. Every lock here lasts until the transaction
 * ends. SQLite needs none of them: Kefu holds one connection to its file, so transactions already
 * run one at a time (and SQLite is never shared between nodes).
 */
export interface ConversationStorage {
  /** Adds `FOR UPDATE` on PostgreSQL: the rows read stay locked until commit. */
  forUpdate<Q extends { forUpdate(): Q }>(query: Q): Q;
  /**
   * Locks customers' rows. Every lifecycle transition takes its customer's before it touches the
   * conversation, as the ingest of that customer's message does (its customer upsert), so a push
   * never lands in a conversation that is being closed or idled under it. Several are locked in
   * one statement in the ingest writer's order (channel, then openid, bytewise), so a transition
   * over many conversations and a batch of pushes never wait for each other in a cycle.
   */
  lockCustomers(tx: Tx, customerIds: readonly string[]): Promise<void>;
  /** Serializes auto-assignment per channel across nodes (a transaction-scoped advisory lock). */
  lockAssignment(tx: Tx, channelId: string): Promise<void>;
}

const postgres: ConversationStorage = {
  forUpdate: (query) => query.forUpdate(),
  async lockCustomers(tx, customerIds) {
    if (customerIds.length === 0) return;
    await tx
      .selectFrom('customers')
      .select('id')
      .where('id', 'in', customerIds)
      .orderBy(sql`channel_id collate "C"`)
      .orderBy(sql`openid collate "C"`)
      .forUpdate()
      .execute();
  },
  async lockAssignment(tx, channelId) {
    await sql`select pg_advisory_xact_lock(hashtext(${'assign:' + channelId}))`.execute(tx);
  },
};

const sqlite: ConversationStorage = {
  forUpdate: (query) => query,
  lockCustomers: () => Promise.resolve(),
  lockAssignment: () => Promise.resolve(),
};

/** The storage seam for a dialect. */
export function conversationStorage(dialect: Dialect): ConversationStorage {
  return dialect === 'postgres' ? postgres : sqlite;
}
