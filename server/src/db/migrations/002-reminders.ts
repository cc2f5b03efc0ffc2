import type { Kysely } from 'kysely';

/** Which events' reminders were sent, so in a cluster exactly one node sends each. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('reminders_sent')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('reminders_sent_pk', ['workspace_id', 'seq'])
    .execute();
}
