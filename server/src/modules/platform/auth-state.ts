/**
 * The `state` of an authorization link: a random grant id and an HMAC over it, the platform and
 * the target workspace. The grant row is the truth (the HMAC stops guessing before any lookup);
 * it is used at most once, and only before it expires.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AppContext } from '../../context';
import { AppError } from '../../errors';

function mac(ctx: AppContext, grantId: string, platformId: string, workspaceId: string): string {
  // A key of its own, derived from the secret key, so a state MAC never doubles as anything else.
  const key = createHash('sha256').update(`kefu-platform-state\0${ctx.config.secretKey}`).digest();
  return createHmac('sha256', key)
    .update([grantId, platformId, workspaceId].join('\0'))
    .digest('base64url');
}

/** Stores a grant and returns its signed state. */
export async function createGrant(
  ctx: AppContext,
  g: { platformId: string; workspaceId: string; createdBy: string; expiresAt: number },
): Promise<string> {
  const id = randomBytes(18).toString('base64url');
  await ctx.db
    .insertInto('platformGrants')
    .values({ id, ...g, createdAt: ctx.now(), usedAt: null })
    .execute();
  return `${id}.${mac(ctx, id, g.platformId, g.workspaceId)}`;
}

/**
 * Checks a state and marks its grant used, atomically: of two callbacks with one state, one
 * wins. Forged, foreign-platform, expired or used → PLATFORM_STATE_INVALID.
 */
export async function useGrant(
  ctx: AppContext,
  platformId: string,
  state: string,
): Promise<{ workspaceId: string }> {
  const [id, sig] = state.split('.');
  const invalid = new AppError('PLATFORM_STATE_INVALID');
  if (!id || !sig) throw invalid;
  const grant = await ctx.db
    .selectFrom('platformGrants')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  if (!grant || grant.platformId !== platformId) throw invalid;
  const want = Buffer.from(mac(ctx, id, grant.platformId, grant.workspaceId));
  const got = Buffer.from(sig);
  if (want.length !== got.length || !timingSafeEqual(want, got)) throw invalid;
  const now = ctx.now();
  const used = await ctx.db
    .updateTable('platformGrants')
    .set({ usedAt: now })
    .where('id', '=', id)
    .where('usedAt', 'is', null)
    .where('expiresAt', '>', now)
    .executeTakeFirst();
  if (Number(used.numUpdatedRows) !== 1) throw invalid;
  return { workspaceId: grant.workspaceId };
}
