import type { Role } from '@kefu/shared';
import type { AppContext } from '../../context';
import type { RevokeNotice, RevokeReason } from './event-log';

/**
 * Close codes the gateway uses (4000–4999 are the application's). The console reconnects and
 * resumes after any close except SIGNED_OUT, which `web/src/realtime/socket.ts` mirrors.
 */
export const CLOSE = {
  /** The session is gone (sign-out, disabled account, password reset): do not reconnect. */
  SIGNED_OUT: 4001,
  /** The agent's role changed: reconnect, and be authorized with the new role. */
  REAUTHORIZE: 4003,
  /** The socket fell too far behind (it does not read): reconnect and resume. */
  TOO_SLOW: 4008,
} as const;

/** The close code for a revocation. */
export function closeCodeFor(reason: RevokeReason): number {
  return reason === 'role_changed' ? CLOSE.REAUTHORIZE : CLOSE.SIGNED_OUT;
}

/** Closes an agent's open sockets (or one session's) on every node, after their access changed. */
export function revokeSockets(ctx: Pick<AppContext, 'notifier'>, notice: RevokeNotice): void {
  ctx.notifier.revoke(notice);
}

const CHUNK = 500;

/**
 * The backstop for a lost revoke notice: the current role behind each still-valid session.
 * A session missing from the result is revoked, expired, or its agent disabled.
 */
export async function liveSessionRoles(
  ctx: Pick<AppContext, 'db' | 'now'>,
  sessionIds: string[],
): Promise<Map<string, Role>> {
  const roles = new Map<string, Role>();
  const ids = [...new Set(sessionIds)];
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows = await ctx.db
      .selectFrom('sessions')
      .innerJoin('agents', 'agents.id', 'sessions.agentId')
      .select(['sessions.id as sessionId', 'agents.role'])
      .where('sessions.id', 'in', ids.slice(i, i + CHUNK))
      .where('sessions.revokedAt', 'is', null)
      .where('sessions.expiresAt', '>', ctx.now())
      .where('agents.disabled', '=', 0)
      .execute();
    for (const r of rows) roles.set(r.sessionId, r.role);
  }
  return roles;
}
