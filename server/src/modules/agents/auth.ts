import type { Role } from '@kefu/shared';
import type { FastifyRequest } from 'fastify';
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { AppContext } from '../../context';
import { AppError } from '../../errors';
import { newId } from '../../lib/ids';
import type { Limit } from '../../lib/rate-limit';
import { recordAudit } from '../audit/audit-service';
import { dummyHash, hashPassword, needsRehash, verifyPassword } from './password';

/** The authenticated agent behind a request. */
export interface Caller {
  agentId: string;
  workspaceId: string;
  role: Role;
  sessionId: string;
}

export const SESSION_COOKIE = 'kefu_session';

/** Supervisors, admins and the owner see every channel and may act on anyone's conversation. */
export function isSupervising(role: Role): boolean {
  return role === 'owner' || role === 'admin' || role === 'supervisor';
}
const SESSION_TTL_MS = 30 * 24 * 3600_000;

/** Sessions are stored by the SHA-256 of their token, never the token itself. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Where a request's session token came from; only the cookie is sent by browsers on their own. */
export interface RequestToken {
  token: string | null;
  fromCookie: boolean;
}

/** The session cookie's value, or null (a malformed percent-encoding counts as none). */
export function sessionCookie(headers: IncomingHttpHeaders): string | null {
  const pair = headers.cookie
    ?.split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  const raw = pair?.slice(SESSION_COOKIE.length + 1);
  if (!raw) return null;
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

/**
 * Reads the session token from `Authorization: Bearer` or else the session cookie. There is no
 * query-string fallback: a token in a URL ends up in logs, history and Referer headers.
 */
export function tokenFrom(req: FastifyRequest): RequestToken {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer '))
    return { token: header.slice(7).trim() || null, fromCookie: false };
  const token = sessionCookie(req.headers);
  return { token, fromCookie: token !== null };
}

/** The caller of a request, and whether the session cookie (not a Bearer header) proved it. */
export async function authenticate(
  ctx: AppContext,
  req: FastifyRequest,
): Promise<{ caller: Caller; fromCookie: boolean }> {
  const { token, fromCookie } = tokenFrom(req);
  return { caller: await authenticateToken(ctx, token), fromCookie };
}

/** Resolves a session token to its agent; expired, revoked or disabled → AUTH_REQUIRED. */
export async function authenticateToken(ctx: AppContext, token: string | null): Promise<Caller> {
  if (!token) throw new AppError('AUTH_REQUIRED');
  const now = ctx.now();
  const row = await ctx.db
    .selectFrom('sessions')
    .innerJoin('agents', 'agents.id', 'sessions.agentId')
    .select([
      'sessions.id as sessionId',
      'agents.id as agentId',
      'agents.workspaceId',
      'agents.role',
      'agents.disabled',
      'sessions.lastSeenAt',
    ])
    .where('sessions.tokenHash', '=', hashToken(token))
    .where('sessions.revokedAt', 'is', null)
    .where('sessions.expiresAt', '>', now)
    .executeTakeFirst();
  if (!row || row.disabled) throw new AppError('AUTH_REQUIRED');
  if (now - Number(row.lastSeenAt) > 60_000) {
    await ctx.db
      .updateTable('sessions')
      .set({ lastSeenAt: now })
      .where('id', '=', row.sessionId)
      .execute();
  }
  return {
    agentId: row.agentId,
    workspaceId: row.workspaceId,
    role: row.role,
    sessionId: row.sessionId,
  };
}

// Sign-in protection (docs/deploying.md). Failures are counted per (address, login) with a tight
// limit, so whoever guesses is stopped quickly without locking the agent out everywhere; per
// login with a looser ceiling, against guessing from many addresses; and per address across
// logins, against trying one password on every login. Each attempt reserves its slot before the
// password is checked (parallel guesses cannot overtake the count); a right password gives its
// slot back and clears that address's counter for the login.
const WINDOW_MS = 5 * 60_000;
const PER_ADDRESS_AND_LOGIN = 10;
const PER_LOGIN = 100;
const PER_ADDRESS = 50;

function signInLimits(login: string, ip: string): Limit[] {
  const name = login.toLowerCase();
  return [
    { key: `signin:pair:${ip}|${name}`, limit: PER_ADDRESS_AND_LOGIN, windowMs: WINDOW_MS },
    { key: `signin:login:${name}`, limit: PER_LOGIN, windowMs: WINDOW_MS },
    { key: `signin:ip:${ip}`, limit: PER_ADDRESS, windowMs: WINDOW_MS },
  ];
}

/** Checks the password and opens a session; the token is returned once and stored hashed. */
export async function login(
  ctx: AppContext,
  input: { login: string; password: string; ip: string },
): Promise<{ token: string; agentId: string; expiresAt: number }> {
  const now = ctx.now();
  const limits = signInLimits(input.login, input.ip);
  const attempt = await ctx.rateLimiter.hit(limits, now);
  if (!attempt.allowed)
    throw new AppError('AUTH_RATE_LIMITED', undefined, { retryAfterMs: attempt.retryAfterMs });
  const agent = await ctx.db
    .selectFrom('agents')
    .select(['id', 'workspaceId', 'passwordHash', 'disabled'])
    .where('login', '=', input.login)
    .executeTakeFirst();
  const cost = ctx.config.passwordCost;
  // Unknown logins and disabled agents are checked too (against a hash nothing matches), so
  // every sign-in costs one scrypt and the answer time does not reveal which logins exist.
  const matches = await verifyPassword(input.password, agent?.passwordHash ?? dummyHash(cost));
  if (!agent || agent.disabled || !matches) {
    // A login nobody holds belongs to no workspace, so it has no audit log to go in.
    if (agent)
      await recordAudit(ctx, null, {
        workspaceId: agent.workspaceId,
        actor: { agentId: agent.id, ip: input.ip },
        action: 'auth.sign_in_failed',
        target: { type: 'agent', id: agent.id },
        details: { reason: agent.disabled ? 'disabled' : 'wrong_password' },
      });
    throw new AppError('AUTH_INVALID_CREDENTIALS');
  }
  await attempt.refund();
  await ctx.rateLimiter.reset(limits[0]!.key);
  if (needsRehash(agent.passwordHash, cost)) {
    await ctx.db
      .updateTable('agents')
      .set({ passwordHash: await hashPassword(input.password, cost) })
      .where('id', '=', agent.id)
      .where('passwordHash', '=', agent.passwordHash)
      .execute();
  }
  const token = randomBytes(32).toString('base64url');
  const expiresAt = now + SESSION_TTL_MS;
  await ctx.db
    .insertInto('sessions')
    .values({
      id: newId(),
      workspaceId: agent.workspaceId,
      agentId: agent.id,
      tokenHash: hashToken(token),
      createdAt: now,
      lastSeenAt: now,
      expiresAt,
      revokedAt: null,
    })
    .execute();
  await recordAudit(ctx, null, {
    workspaceId: agent.workspaceId,
    actor: { agentId: agent.id, ip: input.ip },
    action: 'auth.sign_in',
    target: { type: 'agent', id: agent.id },
  });
  return { token, agentId: agent.id, expiresAt };
}

/** Ends one session: its token answers AUTH_REQUIRED from now on. */
export async function revokeSession(ctx: AppContext, sessionId: string): Promise<void> {
  await ctx.db
    .updateTable('sessions')
    .set({ revokedAt: ctx.now() })
    .where('id', '=', sessionId)
    .execute();
}
