import { sql, type Kysely } from 'kysely';

/**
 * Reminders that reach a phone (issue 8):
 * - `workspaces.presence_rule`: 'until_logout' (online stays online with the console closed, as
 *   WeChat's own tool promises) or 'grace' (offline after the grace period without a connection);
 * - `reminder_routes`: per agent and route ('web_push' | 'wecom_robot') the sealed settings (the
 *   robot's key and whom to @, encrypted like channel secrets) and the last outcome, so the
 *   settings page can say why reminders do not arrive.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('workspaces')
    .addColumn('presence_rule', 'text', (c) => c.notNull().defaultTo(sql`'until_logout'`))
    .execute();
  await db.schema
    .createTable('reminder_routes')
    .addColumn('agent_id', 'text', (c) => c.notNull())
    .addColumn('route', 'text', (c) => c.notNull())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('config_enc', 'text')
    .addColumn('last_ok_at', 'bigint')
    .addColumn('last_error', 'text')
    .addColumn('last_error_at', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('reminder_routes_pk', ['agent_id', 'route'])
    .execute();
}
