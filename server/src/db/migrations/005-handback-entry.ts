import type { Kysely } from 'kysely';

/**
 * The seed's last WeChat rules (issue 8):
 * - `channels.handback_policy`: when a customer message is answered with
 *   `transfer_customer_service` (WeChat's own tool takes it): never | no_agent_online |
 *   outside_hours | always;
 * - `channels.business_hours`: the weekly schedule (JSON) that `outside_hours` reads;
 * - `channels.entry_patterns`: how a contact button's SessionFrom reads to agents (JSON list);
 * - `conversations.handed_back_at`: since when the conversation is with WeChat's tool (its state
 *   is then `handed_back`; Kefu only records).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('channels')
    .addColumn('handback_policy', 'text', (c) => c.notNull().defaultTo('never'))
    .execute();
  await db.schema.alterTable('channels').addColumn('business_hours', 'text').execute();
  await db.schema
    .alterTable('channels')
    .addColumn('entry_patterns', 'text', (c) => c.notNull().defaultTo('[]'))
    .execute();
  await db.schema.alterTable('conversations').addColumn('handed_back_at', 'bigint').execute();
}
