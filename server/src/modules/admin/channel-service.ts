import { LIMITS, type Channel, type createChannelBody, type updateChannelBody } from '@kefu/shared';
import type { Selectable } from 'kysely';
import type { z } from 'zod';
import type { AppContext } from '../../context';
import type { ChannelTable } from '../../db/schema';
import { AppError } from '../../errors';
import { newId } from '../../lib/ids';
import { emitAccessChanged } from '../agents/agent-service';
import { loadChannel, lockChannel, routingOf, toRecord } from '../channels/channel-store';
import { adapterFor, assertAllowedBase } from '../channels/registry';
import { PlatformError } from '../channels/types';
import { recordAudit, type AuditActor } from '../audit/audit-service';

/** The push URL to paste into WeChat's console for this channel. */
export function pushUrlOf(ctx: AppContext, channelId: string): string {
  const base = (ctx.config.publicUrl ?? `http://localhost:${ctx.config.port}`).replace(/\/+$/, '');
  return `${base}/wechat/${channelId}`;
}

/**
 * The Token to show an admin. A secret sealed with another key (KEFU_SECRET_KEY changed or lost)
 * must not take the whole channel list down: the channel still shows, without its Token, so
 * the admin can re-enter the secrets.
 */
function tokenOf(ctx: AppContext, row: Selectable<ChannelTable>): { token?: string } {
  try {
    return { token: toRecord(ctx, row).secrets.token };
  } catch (err) {
    ctx.log.error(
      { err, channelId: row.id },
      'channel secrets cannot be opened with this KEFU_SECRET_KEY',
    );
    return {};
  }
}

/** Channels with their bound-agent count, read in the same query. */
function selectChannels(ctx: AppContext, workspaceId: string) {
  return ctx.db
    .selectFrom('channels')
    .leftJoin('platforms', 'platforms.id', 'channels.platformId')
    .selectAll('channels')
    .select('platforms.name as platformName')
    .select((eb) =>
      eb
        .selectFrom('channelAgents')
        .select((e) => e.fn.countAll<number>().as('n'))
        .whereRef('channelAgents.channelId', '=', 'channels.id')
        .as('agentCount'),
    )
    .where('channels.workspaceId', '=', workspaceId)
    .where('channels.deletedAt', 'is', null);
}

function view(
  ctx: AppContext,
  row: Selectable<ChannelTable> & { agentCount: number | null; platformName: string | null },
  withSecrets: boolean,
): Channel {
  return {
    id: row.id,
    kind: 'wechat_mp',
    name: row.name,
    appId: row.appId,
    originalId: row.originalId,
    mode: row.mode,
    format: row.format,
    tokenEndpoint: row.tokenEndpoint,
    idleMinutes: row.idleMinutes,
    pushUrl: pushUrlOf(ctx, row.id),
    ...(withSecrets ? tokenOf(ctx, row) : {}),
    agentCount: Number(row.agentCount ?? 0),
    agentLimit: LIMITS.agentsPerChannel,
    handbackPolicy: row.handbackPolicy,
    entryPatterns: routingOf(row).entryPatterns,
    contentCheck: row.contentCheck === 1,
    contentCheckFailClosed: row.contentCheckFailClosed === 1,
    platform: row.platformId
      ? {
          id: row.platformId,
          name: row.platformName ?? '',
          state: row.platformState ?? 'authorized',
        }
      : null,
  };
}

/** What WeChat owns for a third-party-authorized mini program: an admin cannot retype it. */
const PLATFORM_OWNED = [
  'appId',
  'appSecret',
  'token',
  'encodingAesKey',
  'mode',
  'format',
  'apiBase',
] as const;

export async function listChannels(
  ctx: AppContext,
  workspaceId: string,
  opts: { withSecrets: boolean; onlyIds?: string[] },
): Promise<Channel[]> {
  let q = selectChannels(ctx, workspaceId);
  if (opts.onlyIds) {
    if (opts.onlyIds.length === 0) return [];
    q = q.where('channels.id', 'in', opts.onlyIds);
  }
  const rows = await q.orderBy('channels.createdAt').execute();
  return rows.map((r) => view(ctx, r, opts.withSecrets));
}

export async function getChannel(
  ctx: AppContext,
  workspaceId: string,
  id: string,
): Promise<Channel> {
  const row = await selectChannels(ctx, workspaceId)
    .where('channels.id', '=', id)
    .executeTakeFirst();
  if (!row) throw new AppError('CHANNEL_NOT_FOUND');
  return view(ctx, row, true);
}

function checkSecurity(mode: string, aesKey: string | null | undefined): void {
  if (mode !== 'plaintext' && !aesKey) {
    throw new AppError(
      'VALIDATION_FAILED',
      'body.encodingAesKey: required for compatible and safe modes',
      { field: 'encodingAesKey' },
    );
  }
}

export async function createChannel(
  ctx: AppContext,
  workspaceId: string,
  input: z.infer<typeof createChannelBody>,
): Promise<Channel> {
  checkSecurity(input.mode, input.encodingAesKey);
  if (input.apiBase) assertAllowedBase(ctx, input.apiBase);
  const id = newId();
  await ctx.db
    .insertInto('channels')
    .values({
      id,
      workspaceId,
      kind: 'wechat_mp',
      name: input.name,
      appId: input.appId,
      originalId: input.originalId,
      secretsEnc: ctx.secrets.seal({
        appSecret: input.appSecret,
        token: input.token,
        encodingAesKey: input.encodingAesKey ?? null,
      }),
      mode: input.mode,
      format: input.format,
      tokenEndpoint: input.tokenEndpoint,
      apiBase: input.apiBase ?? null,
      idleMinutes: input.idleMinutes,
      contentCheck: input.contentCheck ? 1 : 0,
      contentCheckFailClosed: input.contentCheckFailClosed ? 1 : 0,
      createdAt: ctx.now(),
      deletedAt: null,
    })
    .execute();
  return getChannel(ctx, workspaceId, id);
}

export async function updateChannel(
  ctx: AppContext,
  workspaceId: string,
  id: string,
  input: z.infer<typeof updateChannelBody>,
): Promise<Channel> {
  const current = await loadChannel(ctx, id, ctx.db, workspaceId);
  const owned = current.platform ? PLATFORM_OWNED.find((f) => input[f] !== undefined) : undefined;
  if (owned) {
    throw new AppError(
      'VALIDATION_FAILED',
      `body.${owned}: set by the third-party platform authorization`,
      { field: owned },
    );
  }
  const secrets = {
    appSecret: input.appSecret ?? current.secrets.appSecret,
    token: input.token ?? current.secrets.token,
    encodingAesKey:
      input.encodingAesKey !== undefined ? input.encodingAesKey : current.secrets.encodingAesKey,
  };
  checkSecurity(input.mode ?? current.mode, secrets.encodingAesKey);
  if (input.apiBase) assertAllowedBase(ctx, input.apiBase);
  await ctx.db
    .updateTable('channels')
    .set({
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.appId !== undefined ? { appId: input.appId } : {}),
      ...(input.originalId !== undefined ? { originalId: input.originalId } : {}),
      ...(input.mode !== undefined ? { mode: input.mode } : {}),
      ...(input.format !== undefined ? { format: input.format } : {}),
      ...(input.tokenEndpoint !== undefined ? { tokenEndpoint: input.tokenEndpoint } : {}),
      ...(input.apiBase !== undefined ? { apiBase: input.apiBase } : {}),
      ...(input.idleMinutes !== undefined ? { idleMinutes: input.idleMinutes } : {}),
      ...(input.contentCheck !== undefined ? { contentCheck: input.contentCheck ? 1 : 0 } : {}),
      ...(input.contentCheckFailClosed !== undefined
        ? { contentCheckFailClosed: input.contentCheckFailClosed ? 1 : 0 }
        : {}),
      secretsEnc: ctx.secrets.seal(secrets),
    })
    .where('id', '=', id)
    .execute();
  ctx.channels.invalidate(id);
  return getChannel(ctx, workspaceId, id);
}

export async function deleteChannel(
  ctx: AppContext,
  workspaceId: string,
  id: string,
): Promise<void> {
  await loadChannel(ctx, id, ctx.db, workspaceId);
  await ctx.db.updateTable('channels').set({ deletedAt: ctx.now() }).where('id', '=', id).execute();
  ctx.channels.invalidate(id);
}

/** The admin's "test" button: asks the platform for a fresh token with these credentials. */
export async function testChannel(
  ctx: AppContext,
  workspaceId: string,
  id: string,
): Promise<{ ok: boolean; error?: string; code?: number }> {
  const channel = await loadChannel(ctx, id, ctx.db, workspaceId);
  try {
    await adapterFor(ctx, channel).checkCredentials(channel);
    return { ok: true };
  } catch (err) {
    if (err instanceof PlatformError) return { ok: false, error: err.reason, code: err.code };
    throw err;
  }
}

/**
 * Sets the agents bound to a channel as one transaction: every check (the channel, each agent, the
 * 100-agent limit) runs before anything changes, so a refused request leaves the bindings as
 * they were. Locking the channel row first (PostgreSQL) orders it with concurrent bindings.
 * Every agent added or removed gets `agent.access_changed` in the same transaction, so their
 * sockets see the new bindings before any event committed after them.
 */
export async function setChannelAgents(
  ctx: AppContext,
  workspaceId: string,
  channelId: string,
  agentIds: readonly string[],
  audit?: AuditActor,
): Promise<string[]> {
  const wanted = [...new Set(agentIds)];
  return ctx.transact(async (u) => {
    const { tx } = u;
    await lockChannel(tx, workspaceId, channelId);
    if (wanted.length > LIMITS.agentsPerChannel) {
      throw new AppError(
        'CHANNEL_AGENT_LIMIT',
        `A channel can have at most ${LIMITS.agentsPerChannel} agents`,
        { limit: LIMITS.agentsPerChannel },
      );
    }
    const found =
      wanted.length === 0
        ? []
        : await tx
            .selectFrom('agents')
            .select('id')
            .where('workspaceId', '=', workspaceId)
            .where('id', 'in', wanted)
            .execute();
    // Another workspace's agent id is as unknown as a made-up one.
    if (found.length !== wanted.length) throw new AppError('NOT_FOUND', 'No such agent');
    const current = await tx
      .selectFrom('channelAgents')
      .select('agentId')
      .where('channelId', '=', channelId)
      .execute();
    const have = new Set(current.map((c) => c.agentId));
    const gone = current.map((c) => c.agentId).filter((id) => !wanted.includes(id));
    if (gone.length > 0) {
      await tx
        .deleteFrom('channelAgents')
        .where('channelId', '=', channelId)
        .where('agentId', 'in', gone)
        .execute();
    }
    const added = wanted.filter((id) => !have.has(id));
    if (added.length > 0) {
      const now = ctx.now();
      await tx
        .insertInto('channelAgents')
        .values(
          added.map((agentId) => ({ channelId, agentId, workspaceId, serving: 1, createdAt: now })),
        )
        .execute();
    }
    await emitAccessChanged(u, workspaceId, [...gone, ...added]);
    if (audit)
      await recordAudit(ctx, u, {
        workspaceId,
        actor: audit,
        action: 'channel.bindings',
        target: { type: 'channel', id: channelId },
        details: { added, removed: gone },
      });
    return wanted;
  });
}
