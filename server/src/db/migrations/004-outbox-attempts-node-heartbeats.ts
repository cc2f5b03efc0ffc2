import type { Kysely } from 'kysely';

/**
 * Failing parts (issue 7):
 * - `outbox.claim_id`: a fresh id per claim; every later write of the claimer names it, so a node
 *   that was taken for dead (and lost the job to another node) can no longer change the job;
 * - `outbox.sending_since`: committed just before the platform call. A job found with it set and
 *   its owner gone may have reached the customer (custom/send has no idempotency key), so it is
 *   never sent again blindly;
 * - `cluster_nodes`: one heartbeat row per running process, so a dead node's jobs are taken
 *   over within seconds instead of after the lease.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('outbox').addColumn('claim_id', 'text').execute();
  await db.schema.alterTable('outbox').addColumn('sending_since', 'bigint').execute();
  await db.schema
    .createTable('cluster_nodes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('node_id', 'text', (c) => c.notNull())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('beat_at', 'bigint', (c) => c.notNull())
    .execute();
}
