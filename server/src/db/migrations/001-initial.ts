import type { Kysely } from 'kysely';
import type { Dialect } from '../index';

/** The first schema: every table the core loop needs, identical on SQLite and PostgreSQL. */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const blob = dialect === 'postgres' ? 'bytea' : 'blob';
  await db.schema
    .createTable('workspaces')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('event_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('sensitive_words', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('agents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id'))
    .addColumn('login', 'text', (c) => c.notNull().unique())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('offline'))
    .addColumn('capacity', 'integer', (c) => c.notNull())
    .addColumn('auto_accept', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('notifications', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('last_assigned_at', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('status_changed_at', 'bigint', (c) => c.notNull())
    .addColumn('disconnected_at', 'bigint')
    .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('agents_workspace').on('agents').column('workspace_id').execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('agent_id', 'text', (c) => c.notNull().references('agents.id'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .execute();
  await db.schema.createIndex('sessions_agent').on('sessions').column('agent_id').execute();

  await db.schema
    .createTable('channels')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('app_id', 'text', (c) => c.notNull())
    .addColumn('original_id', 'text', (c) => c.notNull())
    .addColumn('secrets_enc', 'text', (c) => c.notNull())
    .addColumn('mode', 'text', (c) => c.notNull())
    .addColumn('format', 'text', (c) => c.notNull())
    .addColumn('token_endpoint', 'text', (c) => c.notNull().defaultTo('stable'))
    .addColumn('api_base', 'text')
    .addColumn('idle_minutes', 'integer', (c) => c.notNull().defaultTo(30))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('deleted_at', 'bigint')
    .execute();
  await db.schema.createIndex('channels_workspace').on('channels').column('workspace_id').execute();

  await db.schema
    .createTable('channel_agents')
    .addColumn('channel_id', 'text', (c) => c.notNull().references('channels.id'))
    .addColumn('agent_id', 'text', (c) => c.notNull().references('agents.id'))
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('serving', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('channel_agents_pk', ['channel_id', 'agent_id'])
    .execute();
  await db.schema
    .createIndex('channel_agents_agent')
    .on('channel_agents')
    .column('agent_id')
    .execute();

  await db.schema
    .createTable('customers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('channel_id', 'text', (c) => c.notNull().references('channels.id'))
    .addColumn('openid', 'text', (c) => c.notNull())
    .addColumn('unionid', 'text')
    .addColumn('nickname', 'text')
    .addColumn('window_expires_at', 'bigint')
    .addColumn('window_quota', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_message_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('customers_channel_openid', ['channel_id', 'openid'])
    .execute();

  await db.schema
    .createTable('conversations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('channel_id', 'text', (c) => c.notNull().references('channels.id'))
    .addColumn('customer_id', 'text', (c) => c.notNull().references('customers.id'))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('agent_id', 'text')
    .addColumn('preferred_agent_id', 'text')
    .addColumn('session_from', 'text')
    .addColumn('next_seq', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('queued_at', 'bigint')
    .addColumn('accepted_at', 'bigint')
    .addColumn('last_message_at', 'bigint', (c) => c.notNull())
    .addColumn('last_customer_message_at', 'bigint')
    .addColumn('last_preview', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('closed_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('conversations_state')
    .on('conversations')
    .columns(['workspace_id', 'state', 'queued_at'])
    .execute();
  await db.schema
    .createIndex('conversations_customer')
    .on('conversations')
    .column('customer_id')
    .execute();
  await db.schema
    .createIndex('conversations_agent')
    .on('conversations')
    .columns(['agent_id', 'state'])
    .execute();

  await db.schema
    .createTable('media')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('mime', 'text', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('data', blob, (c) => c.notNull())
    .addColumn('platform_media_id', 'text')
    .addColumn('platform_channel_id', 'text')
    .addColumn('platform_expires_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('messages')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('channel_id', 'text', (c) => c.notNull())
    .addColumn('conversation_id', 'text', (c) => c.notNull().references('conversations.id'))
    .addColumn('customer_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('direction', 'text', (c) => c.notNull())
    .addColumn('sender', 'text', (c) => c.notNull())
    .addColumn('agent_id', 'text')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('media_id', 'text', (c) => c.references('media.id'))
    .addColumn('platform_msg_id', 'text')
    .addColumn('client_id', 'text')
    .addColumn('delivery', 'text')
    .addColumn('error_code', 'integer')
    .addColumn('error_reason', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('sent_at', 'bigint')
    .addUniqueConstraint('messages_conversation_seq', ['conversation_id', 'seq'])
    .addUniqueConstraint('messages_platform_id', ['channel_id', 'platform_msg_id'])
    .addUniqueConstraint('messages_client_id', ['agent_id', 'client_id'])
    .execute();
  await db.schema
    .createIndex('messages_customer')
    .on('messages')
    .columns(['customer_id', 'created_at'])
    .execute();

  await db.schema
    .createTable('outbox')
    .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
      dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text', (c) => c.notNull().references('messages.id'))
    .addColumn('job', 'text', (c) => c.notNull().defaultTo('send'))
    .addColumn('channel_id', 'text', (c) => c.notNull())
    .addColumn('customer_id', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('locked_until', 'bigint')
    .addColumn('locked_by', 'text')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('outbox_due').on('outbox').column('next_attempt_at').execute();
  await db.schema
    .createIndex('outbox_job')
    .on('outbox')
    .columns(['message_id', 'job'])
    .unique()
    .execute();

  await db.schema
    .createTable('inbound_keys')
    .addColumn('channel_id', 'text', (c) => c.notNull())
    .addColumn('dedupe_key', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('inbound_keys_pk', ['channel_id', 'dedupe_key'])
    .execute();

  await db.schema
    .createTable('events')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('channel_id', 'text')
    .addColumn('agent_id', 'text')
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('events_pk', ['workspace_id', 'seq'])
    .execute();

  await db.schema
    .createTable('quick_replies')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('shortcut', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('push_subscriptions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('agent_id', 'text', (c) => c.notNull())
    .addColumn('endpoint', 'text', (c) => c.notNull().unique())
    .addColumn('keys', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('kv')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
}
