import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, PG_URL, startStack, waitFor, type Stack } from './harness';
import { kefuEnv, startKefu, type KefuProcess } from './kefu-process';
import { customerTexts, textFields } from './push-helpers';

/** Ends every PostgreSQL connection of one Kefu node (as a restart or a network cut would). */
async function cutConnections(applicationName: string): Promise<number> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const res = await client.query<{ pid: number }>(
      `SELECT pg_terminate_backend(pid) AS pid FROM pg_stat_activity
        WHERE application_name = $1 AND pid <> pg_backend_pid()`,
      [applicationName],
    );
    return res.rowCount ?? 0;
  } finally {
    await client.end();
  }
}

describe.runIf(DIALECTS.includes('postgres'))('PostgreSQL drops Kefu’s connections', () => {
  let s: Stack;
  let child: KefuProcess;
  const nodeId = `fault-${randomBytes(3).toString('hex')}`;
  beforeAll(async () => {
    s = await startStack('postgres', { mode: 'plaintext', format: 'xml' });
    child = await startKefu(kefuEnv(s.app.kefu.ctx.config, { KEFU_NODE_ID: nodeId }));
  });
  afterAll(async () => {
    await child?.kill();
    await s?.close();
  });

  /** A push delivered to the child process (not the in-process stack). */
  async function pushToChild(openid: string, text: string) {
    const push = s.sim.buildPush(s.channel.appId, textFields(s, openid, text));
    const url = `${child.url}/wechat/${s.channel.id}?${new URLSearchParams(push.query).toString()}`;
    try {
      return await (await fetch(url, { method: 'POST', body: push.body })).text();
    } catch (err) {
      throw new Error(`push failed (exited: ${child.exited}): ${String(err)}\n${child.output()}`);
    }
  }

  it('survives its idle connections being terminated, and serves on new ones', async () => {
    expect(await pushToChild('o-before', '断开之前')).toBe('success');
    // Its pool now holds idle connections; end them all, twice over.
    for (let round = 0; round < 2; round++) {
      await waitFor(async () => (await cutConnections(`kefu:${nodeId}`)) > 0, 20_000, 'a cut');
      // The process stays up and answers from fresh connections.
      const ok = await waitFor(
        async () => {
          if (child.exited) throw new Error(`Kefu exited:\n${child.output()}`);
          const res = await fetch(`${child.url}/api/health`);
          return res.ok;
        },
        20_000,
        'health after the cut',
      );
      expect(ok).toBe(true);
      expect(await pushToChild(`o-after-${round}`, `断开之后 ${round}`)).toBe('success');
    }
    expect(child.exited).toBe(false);
    expect(await customerTexts(s, 'o-after-1')).toEqual(['断开之后 1']);
    expect(child.output()).toContain('database connection lost');
  });
});
