/**
 * The ingest path's statements, written by hand next to the Kysely schema (`db/schema.ts`):
 * they run for every push, and building them with the query builder (plus the CamelCase pass)
 * cost more CPU than running them. Each is compiled once per dialect; results still go through
 * the CamelCase plugin, so rows read as the rest of the code expects.
 */
import { CompiledQuery } from 'kysely';
import { preparedStatement, type Dialect, type Tx } from '../../db/index';

const AGENT_NAME = '(select display_name from agents where agents.id = conversations.agent_id)';

const TEXT = {
  dedupe: `insert into inbound_keys (channel_id, dedupe_key, created_at) values (?, ?, ?)
    on conflict (channel_id, dedupe_key) do nothing`,
  // The reply window's rule (reply-window.ts) in one upsert: the expiry becomes the later of
  // the current one and now + the action's duration; a message sets the quota, entering the
  // chat keeps a larger quota left in a window still open.
  customerOnMessage: `insert into customers (id, workspace_id, channel_id, openid, unionid, nickname,
      window_expires_at, window_quota, last_message_at, created_at)
    values (?, ?, ?, ?, null, ?, ?, ?, ?, ?)
    on conflict (channel_id, openid) do update set
      window_expires_at = case when customers.window_expires_at > excluded.window_expires_at
        then customers.window_expires_at else excluded.window_expires_at end,
      window_quota = excluded.window_quota,
      last_message_at = excluded.last_message_at
    returning *`,
  customerOnEnter: `insert into customers (id, workspace_id, channel_id, openid, unionid, nickname,
      window_expires_at, window_quota, last_message_at, created_at)
    values (?, ?, ?, ?, null, ?, ?, ?, ?, ?)
    on conflict (channel_id, openid) do update set
      window_quota = case when customers.window_expires_at > excluded.last_message_at
          and customers.window_quota > excluded.window_quota
        then customers.window_quota else excluded.window_quota end,
      window_expires_at = case when customers.window_expires_at > excluded.window_expires_at
        then customers.window_expires_at else excluded.window_expires_at end,
      last_message_at = excluded.last_message_at
    returning *`,
  openConversation: `select id, state, agent_id from conversations
    where customer_id = ? and state in ('queued', 'active', 'idle', 'handed_back')
    order by created_at desc limit 1`,
  previousAgent: `select agent_id from conversations where customer_id = ?
    order by created_at desc limit 1`,
  insertConversation: `insert into conversations (id, workspace_id, channel_id, customer_id, state,
      agent_id, preferred_agent_id, session_from, next_seq, queued_at, accepted_at, last_message_at,
      last_customer_message_at, last_preview, closed_at, created_at, updated_at)
    values (?, ?, ?, ?, 'queued', null, ?, null, 1, ?, null, ?, null, '', null, ?, ?)`,
  // Takes the message's seq and updates the list fields in one statement, returning what the
  // event payload needs (so no join is run to build it).
  touchForMessage: `update conversations set next_seq = next_seq + 1, last_message_at = ?,
      last_preview = ?, last_customer_message_at = ?, updated_at = ?
    where id = ? returning *, ${AGENT_NAME} as agent_name`,
  touchForEnter: `update conversations set next_seq = next_seq + 1, session_from = ?, updated_at = ?
    where id = ? returning *, ${AGENT_NAME} as agent_name`,
  insertMessage: `insert into messages (id, workspace_id, channel_id, conversation_id, customer_id,
      seq, direction, sender, agent_id, kind, body, media_id, platform_msg_id, client_id, delivery,
      error_code, error_reason, created_at, sent_at)
    values (?, ?, ?, ?, ?, ?, ?, ?, null, ?, ?, null, ?, null, null, null, null, ?, null)`,
} as const;

type Name = keyof typeof TEXT;

/** `?` placeholders as PostgreSQL's `$1, $2 …` (none of these statements has a `?` literal). */
function numbered(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

const BY_DIALECT: Record<Dialect, Record<Name, string>> = {
  sqlite: TEXT,
  // Named prepared statements: PostgreSQL parses and plans each once per connection.
  postgres: Object.fromEntries(
    Object.entries(TEXT).map(([k, v]) => [k, preparedStatement(numbered(v))]),
  ) as Record<Name, string>,
};

/** Runs one of the ingest statements; rows come back camelCased. */
export async function run<R = Record<string, unknown>>(
  tx: Tx,
  dialect: Dialect,
  name: Name,
  params: unknown[],
): Promise<{ rows: R[]; affected: number }> {
  const result = await tx.executeQuery<R>(CompiledQuery.raw(BY_DIALECT[dialect][name], params));
  return { rows: result.rows, affected: Number(result.numAffectedRows ?? 0) };
}
