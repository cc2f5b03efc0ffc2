import { sql, type Kysely } from 'kysely';

/**
 * Authorization data the first schema lacked:
 * - `media.uploaded_by`: who uploaded an image, so an agent can read their own uploads;
 * - `media.channel_id`: the mini program an inbound image (a picture or a card's cover) came
 *   from, so the agents bound to it can read it without searching message bodies;
 * - `messages_media`: finding the messages that carry an image is one index lookup;
 * - push subscriptions unique per (agent, endpoint) instead of per endpoint, so registering an
 *   endpoint someone else holds adds the caller's row and never takes theirs.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('media').addColumn('uploaded_by', 'text').execute();
  await db.schema.alterTable('media').addColumn('channel_id', 'text').execute();
  await db.schema.createIndex('messages_media').on('messages').column('media_id').execute();

  // SQLite cannot drop a column's UNIQUE, so the table is rebuilt (the same on both dialects).
  await db.schema
    .createTable('push_subscriptions_new')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('agent_id', 'text', (c) => c.notNull())
    .addColumn('endpoint', 'text', (c) => c.notNull())
    .addColumn('keys', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('push_subscriptions_agent_endpoint', ['agent_id', 'endpoint'])
    .execute();
  await sql`INSERT INTO push_subscriptions_new (id, workspace_id, agent_id, endpoint, keys, created_at)
    SELECT id, workspace_id, agent_id, endpoint, keys, created_at FROM push_subscriptions`.execute(
    db,
  );
  await db.schema.dropTable('push_subscriptions').execute();
  await db.schema.alterTable('push_subscriptions_new').renameTo('push_subscriptions').execute();
}
