import type { Role } from '@kefu/shared';
import type { FastifyRequest } from 'fastify';
import { createHash, randomBytes } from 'node:crypto';
import type { AppContext } from '../../context';
import { AppError } from '../../errors';
import { newId } from '../../lib/ids';
import { verifyPassword } from './password';

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

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Reads the session token from `Authorization: Bearer`, the session cookie, or `?token=` (WebSocket). */
export function tokenFrom(req: FastifyRequest): string | null {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim();
  const cookie = req.headers.cookie
    ?.split(';')
    .map((c) => c.trim().split('='))
    .find(([name]) => name === SESSION_COOKIE);
  if (cookie?.[1]) return decodeURIComponent(cookie[1]);
  const q = (req.query as Record<string, unknown> | undefined)?.token;
  return typeof q === 'string' && q ? q : null;
}

export function authenticate(ctx: AppContext, req: FastifyRequest): Promise<Caller> {
  return authenticateToken(ctx, tokenFrom(req));
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

/** Sliding-window limiter for sign-in attempts, per login and per address (per node). */
export class LoginLimiter {
  private readonly attempts = new Map<string, number[]>();
  constructor(
    private readonly max = 10,
    private readonly windowMs = 5 * 60_000,
  ) {}

  check(keys: string[], now: number): void {
    for (const key of keys) {
      const recent = (this.attempts.get(key) ?? []).filter((t) => now - t < this.windowMs);
      this.attempts.set(key, recent);
      if (recent.length >= this.max)
        throw new AppError('AUTH_RATE_LIMITED', undefined, {
          retryAfterMs: this.windowMs - (now - recent[0]!),
        });
    }
  }

  fail(keys: string[], now: number): void {
    for (const key of keys) this.attempts.set(key, [...(this.attempts.get(key) ?? []), now]);
  }

  reset(keys: string[]): void {
    for (const key of keys) this.attempts.delete(key);
  }
}

/** Checks the password and opens a session; the token is returned once and stored hashed. */
export async function login(
  ctx: AppContext,
  limiter: LoginLimiter,
  input: { login: string; password: string; ip: string },
): Promise<{ token: string; agentId: string; expiresAt: number }> {
  const now = ctx.now();
  const keys = [`login:${input.login.toLowerCase()}`, `ip:${input.ip}`];
  limiter.check(keys, now);
  const agent = await ctx.db
    .selectFrom('agents')
    .select(['id', 'workspaceId', 'passwordHash', 'disabled'])
    .where('login', '=', input.login)
    .executeTakeFirst();
  const ok = agent && !agent.disabled && (await verifyPassword(input.password, agent.passwordHash));
  if (!agent || !ok) {
    limiter.fail(keys, now);
    throw new AppError('AUTH_INVALID_CREDENTIALS');
  }
  limiter.reset([keys[0]!]);
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
  return { token, agentId: agent.id, expiresAt };
}

export async function revokeSession(ctx: AppContext, sessionId: string): Promise<void> {
  await ctx.db
    .updateTable('sessions')
    .set({ revokedAt: ctx.now() })
    .where('id', '=', sessionId)
    .execute();
}
