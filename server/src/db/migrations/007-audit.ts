import type { Kysely } from 'kysely';

/**
 * Usage rules, audit log and content check (issue 8 part 6):
 * - `audit_log`: who did what to what, written in the same transaction as the action where
 *   there is one; read newest first per workspace, optionally per actor (the two indexes);
 * - `rules_acks`: which version of WeChat's usage rules each agent acknowledged, and when;
 * - `channels.content_check` / `content_check_fail_closed`: the per mini program switch for
 *   WeChat's msgSecCheck before sending, and whether a failing check refuses the reply.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('audit_log')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('actor_id', 'text')
    .addColumn('actor_name', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target_type', 'text')
    .addColumn('target_id', 'text')
    .addColumn('details', 'text', (c) => c.notNull())
    .addColumn('ip', 'text')
    .execute();
  await db.schema
    .createIndex('audit_log_ws_at')
    .on('audit_log')
    .columns(['workspace_id', 'at', 'id'])
    .execute();
  await db.schema
    .createIndex('audit_log_ws_actor_at')
    .on('audit_log')
    .columns(['workspace_id', 'actor_id', 'at', 'id'])
    .execute();
  await db.schema
    .createTable('rules_acks')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('agent_id', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('acked_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('rules_acks_pk', ['agent_id', 'version'])
    .execute();
  await db.schema
    .alterTable('channels')
    .addColumn('content_check', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('channels')
    .addColumn('content_check_fail_closed', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}
