import type { Agent } from '@kefu/shared';
import type { AppContext } from '../../context';
import { newId } from '../../lib/ids';
import { createAgent } from '../agents/agent-service';

/** Creates a workspace and its owner (CLI `create-owner`, the demo, tests). */
export async function createWorkspace(
  ctx: AppContext,
  input: { name: string; login: string; password: string; displayName?: string },
): Promise<{ workspaceId: string; owner: Agent }> {
  const workspaceId = newId();
  await ctx.db
    .insertInto('workspaces')
    .values({
      id: workspaceId,
      name: input.name,
      eventSeq: 0,
      sensitiveWords: '[]',
      createdAt: ctx.now(),
    })
    .execute();
  const owner = await createAgent(ctx, workspaceId, {
    login: input.login,
    displayName: input.displayName ?? input.login,
    password: input.password,
    role: 'owner',
    capacity: 10,
    channelIds: [],
  });
  return { workspaceId, owner };
}
