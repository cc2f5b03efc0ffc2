import { USAGE_RULES_VERSION } from '@kefu/shared';
import type { AppContext } from '../../context';
import { AppError } from '../../errors';
import { recordAudit, type AuditActor } from './audit-service';

export interface UsageRulesState {
  version: string;
  ackedVersion: string | null;
  ackedAt: number | null;
}

/** The current rules version and the caller's acknowledgement of it, if any. */
export async function usageRulesState(
  ctx: AppContext,
  workspaceId: string,
  agentId: string,
): Promise<UsageRulesState> {
  const row = await ctx.db
    .selectFrom('rulesAcks')
    .select(['version', 'ackedAt'])
    .where('workspaceId', '=', workspaceId)
    .where('agentId', '=', agentId)
    .where('version', '=', USAGE_RULES_VERSION)
    .executeTakeFirst();
  return {
    version: USAGE_RULES_VERSION,
    ackedVersion: row?.version ?? null,
    ackedAt: row ? Number(row.ackedAt) : null,
  };
}

/**
 * Records that an agent read and accepted the current rules; the ack and its audit row commit
 * together. Acknowledging an older version (a console left open across an upgrade) is refused,
 * so nobody is on record for rules they were not shown. A second ack keeps the first time.
 */
export async function ackUsageRules(
  ctx: AppContext,
  workspaceId: string,
  actor: AuditActor & { agentId: string },
  version: string,
): Promise<UsageRulesState> {
  if (version !== USAGE_RULES_VERSION)
    throw new AppError(
      'VALIDATION_FAILED',
      `body.version: the current rules are ${USAGE_RULES_VERSION}`,
      {
        field: 'version',
        where: 'body',
      },
    );
  await ctx.transact(async (u) => {
    const done = await u.tx
      .insertInto('rulesAcks')
      .values({ workspaceId, agentId: actor.agentId, version, ackedAt: ctx.now() })
      .onConflict((oc) => oc.columns(['agentId', 'version']).doNothing())
      .executeTakeFirst();
    if (Number(done.numInsertedOrUpdatedRows ?? 0) > 0)
      await recordAudit(ctx, u, {
        workspaceId,
        actor,
        action: 'agent.rules_ack',
        target: { type: 'usage_rules', id: version },
      });
  });
  return usageRulesState(ctx, workspaceId, actor.agentId);
}
