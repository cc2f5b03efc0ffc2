import type { SendMessageBody } from '@kefu/shared';
import type { AppContext } from '../../context';
import { AppError } from '../../errors';
import type { Caller } from '../agents/auth';
import { recordAudit } from '../audit/audit-service';
import { adapterFor } from '../channels/registry';
import { PlatformError } from '../channels/types';

/** How much of a flagged text the audit entry keeps, for the admin who reviews it. */
const EXCERPT_CHARS = 200;

/**
 * The optional platform content check (发送前内容安全检测) of an outgoing text, run before
 * anything is stored, outside any transaction (it is an HTTP call). Per channel:
 * - off: nothing is asked;
 * - `risky`: refused with MESSAGE_CONTENT_RISKY, nothing stored or sent, an audit entry kept;
 * - `review` (doubtful): sent (a person already wrote it, and WeChat itself lets it through),
 *   with an audit entry so an admin can look at it;
 * - the check fails (WeChat busy, timeout, 61010 customer not seen lately): sent, unless the
 *   channel says to fail closed, then refused with MESSAGE_CONTENT_CHECK_UNAVAILABLE.
 * Only text is checked: images, cards and links carry titles WeChat reviews on its side.
 */
export async function checkOutgoingContent(
  ctx: AppContext,
  caller: Caller,
  conversationId: string,
  input: SendMessageBody,
): Promise<void> {
  if (input.kind !== 'text') return;
  const row = await ctx.db
    .selectFrom('conversations as c')
    .innerJoin('customers as cu', 'cu.id', 'c.customerId')
    .innerJoin('channels as ch', 'ch.id', 'c.channelId')
    .select([
      'c.state',
      'c.agentId',
      'c.channelId',
      'cu.openid',
      'ch.contentCheck',
      'ch.contentCheckFailClosed',
    ])
    .where('c.id', '=', conversationId)
    .where('c.workspaceId', '=', caller.workspaceId)
    .executeTakeFirst();
  if (!row || row.contentCheck !== 1) return;
  // A reply the send path will refuse anyway (not active, not the caller's) costs no platform call.
  if (row.state !== 'active' || row.agentId !== caller.agentId) return;
  const channel = await ctx.channels.get(row.channelId);
  const adapter = adapterFor(ctx, channel);
  if (!adapter.checkText) return;
  const audit = (
    action: 'message.content_blocked' | 'message.content_review',
    label: number | null,
  ) =>
    recordAudit(ctx, null, {
      workspaceId: caller.workspaceId,
      actor: caller,
      action,
      target: { type: 'conversation', id: conversationId },
      details: { label, clientId: input.clientId, text: input.text.slice(0, EXCERPT_CHARS) },
    });
  let verdict;
  try {
    verdict = await adapter.checkText(channel, row.openid, input.text);
  } catch (err) {
    const errcode = err instanceof PlatformError ? err.code : null;
    ctx.log.warn({ err, channelId: row.channelId, errcode }, 'content check failed');
    if (row.contentCheckFailClosed === 1)
      throw new AppError('MESSAGE_CONTENT_CHECK_UNAVAILABLE', undefined, { errcode });
    return;
  }
  if (verdict.suggest === 'risky') {
    await audit('message.content_blocked', verdict.label);
    throw new AppError('MESSAGE_CONTENT_RISKY', undefined, { label: verdict.label });
  }
  if (verdict.suggest === 'review') await audit('message.content_review', verdict.label);
}
