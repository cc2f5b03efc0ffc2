import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from './api-client';
import { REDIS_URL } from './cluster-harness';
import { DIALECTS, startStack, waitFor, type Stack } from './harness';
import { acceptAndReply } from './push-helpers';
import { kefuEnv, startKefu, type KefuProcess } from './kefu-process';
import { isToken, startGate, type PlatformGate } from './platform-gate';

/*
 * A node dies with a reply in flight (issue 7, part 5): two `kefu start` children on PostgreSQL
 * and Redis. Node A's platform calls go through a gate that holds its token request, so A has
 * claimed the reply and not sent it yet. Node B (straight to the emulator) must send it exactly
 * once, on the strength of A's heartbeat, not after A's 60 s lease.
 */

const TEST_MS = 150_000;
const WAIT_MS = 45_000;

/** A promise the test resolves: a held platform call goes on once it does. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe.runIf(DIALECTS.includes('postgres'))('a node dies with a reply in flight', () => {
  let s: Stack;
  let gate: PlatformGate;
  let agent: ApiClient;
  const tag = randomBytes(3).toString('hex');
  const children: KefuProcess[] = [];
  const latches: { open: () => void }[] = [];

  async function startNode(name: string, viaGate: boolean): Promise<KefuProcess> {
    const config = s.app.kefu.ctx.config;
    const child = await startKefu(
      kefuEnv(config, {
        KEFU_NODE_ID: `${name}-${tag}`,
        KEFU_REDIS_URL: REDIS_URL,
        KEFU_REDIS_PREFIX: `kefu-test-${tag}:`,
        ...(viaGate
          ? {
              KEFU_WECHAT_API_BASE: gate.url,
              KEFU_ALLOWED_OUTBOUND: [...config.allowedOutboundBases, gate.url].join(','),
            }
          : {}),
      }),
    );
    children.push(child);
    return child;
  }

  /** Holds the next token request (node A's) until the returned latch opens. */
  function holdNextToken(): { held: Promise<void>; release: () => void } {
    const go = latch();
    const arrived = latch();
    latches.push(go);
    gate.rule({
      match: isToken,
      before: async () => {
        arrived.open();
        await go.promise;
      },
    });
    return { held: arrived.promise, release: go.open };
  }

  /** A customer writes, the agent accepts and replies through the in-process node. */
  async function reply(openid: string, text: string): Promise<string> {
    const sent = await acceptAndReply(s, agent, openid, text, {
      first: '在吗',
      timeoutMs: WAIT_MS,
    });
    return sent.messageId;
  }

  async function job(messageId: string) {
    return s.app.kefu.ctx.db
      .selectFrom('outbox')
      .select(['lockedBy', 'lockedUntil', 'sendingSince'])
      .where('messageId', '=', messageId)
      .executeTakeFirst();
  }

  let nodeBProcess: KefuProcess | undefined;
  /** Node B, straight to the emulator; one for the whole file. */
  async function nodeB(): Promise<KefuProcess> {
    if (!nodeBProcess || nodeBProcess.exited) nodeBProcess = await startNode('node-b', false);
    return nodeBProcess;
  }

  /** Runs `fn` with `node` frozen (SIGSTOP): it claims nothing meanwhile. */
  async function frozen<T>(node: KefuProcess, fn: () => Promise<T>): Promise<T> {
    process.kill(node.pid, 'SIGSTOP');
    try {
      return await fn();
    } finally {
      process.kill(node.pid, 'SIGCONT');
    }
  }

  const inbox = (openid: string) => s.sim.inbox(s.channel.appId, openid).map((m) => m.text);

  beforeAll(async () => {
    // The in-process node takes pushes and the agent's API calls; it never runs the outbox.
    s = await startStack('postgres', { build: { workers: false } });
    gate = await startGate(s.sim.url!);
    // No base of its own: each node uses its KEFU_WECHAT_API_BASE (A: the gate, B: the emulator).
    await s.app.kefu.ctx.db
      .updateTable('channels')
      .set({ apiBase: null })
      .where('id', '=', s.channel.id)
      .execute();
    agent = await s.agent('fault-node', { capacity: 10 });
  });
  afterAll(async () => {
    for (const l of latches) l.open();
    for (const child of children) {
      if (!child.exited) process.kill(child.pid, 'SIGCONT');
      await child.kill();
    }
    await gate?.close();
    await s?.close();
  });

  it(
    'SIGKILL: another node sends the reply once, before the dead node’s lease ran out',
    async () => {
      const a = await startNode('node-a', true);
      const b = await nodeB();
      // A must be the one to claim the reply: B is frozen meanwhile.
      const hold = holdNextToken();
      const id = await frozen(b, async () => {
        const messageId = await reply('o-killed', '节点被杀也只发一次');
        await hold.held;
        return messageId;
      });
      // B runs again while A holds the job: A is alive, so B leaves it alone.
      const held = await job(id);
      expect(held?.lockedBy).toMatch(new RegExp(`^node-a-${tag}\\.`));
      expect(held?.sendingSince).toBeNull();
      expect(inbox('o-killed')).toEqual([]);

      await a.kill();
      const sent = await waitFor(
        async () => {
          const m = await s.app.kefu.ctx.db
            .selectFrom('messages')
            .select(['delivery', 'sentAt'])
            .where('id', '=', id)
            .executeTakeFirstOrThrow();
          return m.delivery === 'pending' ? undefined : m;
        },
        WAIT_MS,
        'node B to send the reply',
      );
      expect(sent.delivery).toBe('sent');
      // Taken over on A's death, not on its lease: sent while A's lease still ran.
      expect(Number(sent.sentAt)).toBeLessThan(Number(held!.lockedUntil));
      expect(inbox('o-killed')).toEqual(['节点被杀也只发一次']);
      expect(b.output()).toContain('outbox job taken over from a node that died or stalled');
      hold.release();
    },
    TEST_MS,
  );

  it(
    'SIGSTOP: a frozen node’s job is taken over; thawed, it finds the job gone and sends nothing',
    async () => {
      const b = await nodeB();
      const a2 = await startNode('node-a2', true);
      const hold = holdNextToken();
      const id = await frozen(b, async () => {
        const messageId = await reply('o-frozen', '冻结的节点不会重发');
        await hold.held;
        return messageId;
      });
      expect((await job(id))?.lockedBy).toMatch(new RegExp(`^node-a2-${tag}\\.`));

      // A2 freezes mid-claim: its PID lives on, so only its silent heartbeat tells B.
      process.kill(a2.pid, 'SIGSTOP');
      try {
        await waitFor(() => inbox('o-frozen').length > 0, WAIT_MS, 'node B to send the reply');
      } finally {
        hold.release();
        process.kill(a2.pid, 'SIGCONT');
      }
      // Thawed, A2 gets its token and is fenced off before sending.
      await waitFor(
        () => a2.output().includes('outbox job no longer ours'),
        WAIT_MS,
        'node A2 to find its job taken over',
      );
      expect(inbox('o-frozen')).toEqual(['冻结的节点不会重发']);
      expect(await job(id)).toBeUndefined();
      expect(a2.exited).toBe(false);
    },
    TEST_MS,
  );
});
