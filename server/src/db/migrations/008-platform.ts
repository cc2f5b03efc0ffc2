import type { Kysely } from 'kysely';

/**
 * Third-party platform mode (issue 8):
 * - `platforms`: one WeChat Open Platform component (AppID, sealed secret/token/key, the latest
 *   sealed component_verify_ticket), held by the workspace that configured it;
 * - `platform_grants`: one row per authorization link, naming the workspace the authorized mini
 *   program joins; `used_at` makes the link's state single-use;
 * - `platform_authorizers`: the binding of an authorizer AppID to a channel, with its sealed
 *   refresh token. One row per (platform, authorizer AppID): a mini program is in one workspace;
 * - `channels.platform_id` / `platform_state`: a channel that came from an authorization, and
 *   whether the mini program still grants it (`authorized` | `unauthorized`).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('platforms')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('component_app_id', 'text', (c) => c.notNull().unique())
    .addColumn('secrets_enc', 'text', (c) => c.notNull())
    .addColumn('shared', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('api_base', 'text')
    .addColumn('ticket_enc', 'text')
    .addColumn('ticket_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('platform_grants')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('platform_id', 'text', (c) => c.notNull())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .execute();
  await db.schema
    .createTable('platform_authorizers')
    .addColumn('channel_id', 'text', (c) => c.primaryKey())
    .addColumn('platform_id', 'text', (c) => c.notNull())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('authorizer_app_id', 'text', (c) => c.notNull())
    .addColumn('refresh_enc', 'text')
    .addColumn('func_info', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('platform_authorizers_app')
    .on('platform_authorizers')
    .columns(['platform_id', 'authorizer_app_id'])
    .unique()
    .execute();
  await db.schema.alterTable('channels').addColumn('platform_id', 'text').execute();
  await db.schema.alterTable('channels').addColumn('platform_state', 'text').execute();
}
