import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, type RealtimeClient } from './api-client';
import { DIALECTS, startStack, type Stack } from './harness';
import { kefuEnv, startKefu, type KefuProcess } from './kefu-process';
import { encodeFrame, rawConsole, rawUpgrade, textFrame } from './raw-ws';

/** Rounds per raw client, and raw clients at once: a few thousand frames in all. */
const ROUNDS = 250;
const CLIENTS = 4;
/** Live memory (heap + buffers, after a full GC) may end at most this far above its baseline. */
const MEMORY_SLACK = 48 * 1024 * 1024;
const SEED = Number(process.env.KEFU_FUZZ_SEED ?? 0x5eed);

/** A small seeded PRNG (mulberry32), so a failing run can be replayed with KEFU_FUZZ_SEED. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  return { int, bytes, pick: <T>(xs: T[]) => xs[int(xs.length)]! };
}
type Rand = ReturnType<typeof prng>;

/**
 * One hostile burst. `complete` bursts are whole frames (the server answers a ping after them or
 * closes); the others leave a frame half-sent, so the client just hangs up.
 */
function burst(r: Rand): { frames: Buffer[]; complete: boolean } {
  const text = () => textFrame(r.pick([{ type: 'ping' }, { type: 'resume', lastSeq: r.int(1e6) }]));
  const kinds: (() => { frames: Buffer[]; complete: boolean })[] = [
    () => ({
      frames: [encodeFrame(0x1, Buffer.from([0xc3, 0x28, ...r.bytes(r.int(8))]))],
      complete: true,
    }),
    () => ({ frames: [encodeFrame(0x1, '{"type":"ping"}', { mask: false })], complete: true }),
    () => ({
      frames: [encodeFrame(r.pick([0x1, 0x2]), r.bytes(5000 + r.int(200_000)))],
      complete: true,
    }),
    () => ({
      frames: [
        encodeFrame(0x1, '{"type":', { fin: false }),
        encodeFrame(0x0, r.pick(['"ping"}', '"pi', '\u00ff']), { fin: r.int(2) === 0 }),
        ...(r.int(2) ? [encodeFrame(0x1, '{}')] : []),
      ],
      complete: true,
    }),
    () => ({ frames: [encodeFrame(0x0, 'orphan continuation')], complete: true }),
    () => ({
      frames: [encodeFrame(r.pick([0x8, 0x9, 0xa]), r.bytes(126 + r.int(200)))],
      complete: true,
    }),
    () => ({
      frames: [encodeFrame(0x8, Buffer.from([r.int(256), r.int(256), ...r.bytes(r.int(4))]))],
      complete: true,
    }),
    () => ({
      frames: [encodeFrame(r.pick([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]), r.bytes(r.int(20)))],
      complete: true,
    }),
    () => ({
      frames: [encodeFrame(0x1, '{"type":"ping"}', { rsv: 1 + r.int(7) })],
      complete: true,
    }),
    () => ({
      frames: [encodeFrame(0x9, r.bytes(r.int(125)), { fin: r.int(4) !== 0 })],
      complete: true,
    }),
    () => ({ frames: [text(), text(), encodeFrame(0x2, r.bytes(r.int(3000)))], complete: true }),
    () => ({ frames: [encodeFrame(0x1, '['.repeat(4000))], complete: true }),
    () => ({ frames: [encodeFrame(0x1, r.bytes(r.int(300)))], complete: true }),
    // Cut short: a header alone, a length with no body, a length of 2^40.
    () => ({ frames: [encodeFrame(0x1, r.bytes(200)).subarray(0, 1 + r.int(8))], complete: false }),
    () => ({
      frames: [Buffer.from([0x81, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4])],
      complete: r.int(2) === 0,
    }),
    () => ({ frames: [r.bytes(1 + r.int(2000))], complete: false }),
  ];
  return r.pick(kinds)();
}

/** Asks the child for its memory after a full GC (bench/memory-probe.ts, on SIGUSR2). */
async function liveMemory(child: KefuProcess): Promise<number> {
  const count = () => child.output().split('MEMORY ').length;
  const before = count();
  process.kill(child.pid, 'SIGUSR2');
  while (count() === before) {
    if (child.exited) throw new Error(`Kefu exited:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const line = child
    .output()
    .split('\n')
    .filter((l) => l.startsWith('MEMORY '))
    .pop()!;
  const m = JSON.parse(line.slice('MEMORY '.length)) as { heapUsed: number; external: number };
  return m.heapUsed + m.external;
}

describe.each(DIALECTS)('WebSocket fuzz against a kefu process (%s)', (dialect) => {
  let s: Stack;
  let child: KefuProcess;
  beforeAll(async () => {
    s = await startStack(dialect);
    const probe = pathToFileURL(path.resolve(import.meta.dirname, '../../bench/memory-probe.ts'));
    child = await startKefu(kefuEnv(s.app.kefu.ctx.config), {
      nodeArgs: ['--expose-gc', '--import', probe.href],
    });
  });
  afterAll(async () => {
    await child?.kill();
    await s?.close();
  });

  /** Fails with the child's output when it died: that is the bug this test looks for. */
  function alive(): void {
    if (child.exited) throw new Error(`the Kefu process exited under fuzz:\n${child.output()}`);
  }

  async function round(r: Rand, token: string): Promise<void> {
    const mode = r.int(10);
    if (mode === 0) {
      // Not even a WebSocket: garbage straight at the HTTP port.
      const sock = net.connect(Number(new URL(child.url).port), '127.0.0.1');
      sock.on('error', () => undefined);
      // Read (and drop) the answer: a socket nobody reads never sees its end, so never closes.
      sock.resume();
      sock.end(r.bytes(1 + r.int(500)));
      await new Promise((res) => sock.once('close', res));
      return;
    }
    if (mode === 1) {
      const up = await rawUpgrade(child.url, r.pick(['/', '/api/ws/x', '/api/ws']));
      up.write(r.bytes(r.int(100)));
      await up.closedByServer();
      return;
    }
    const { conn } = await rawConsole(child.url, token);
    const { frames, complete } = burst(r);
    for (const f of frames) conn.write(f);
    if (!complete) return conn.destroy();
    conn.write(textFrame({ type: 'ping' }));
    await conn.until(
      () => conn.closed || conn.json().some((f) => f.type === 'pong'),
      20_000,
      'pong or close',
    );
    conn.destroy();
  }

  // Bounded by frame count, not time; the timeout only catches a hang on a loaded machine.
  it(
    'random and malformed frames never end the process, nor leak memory',
    { timeout: 300_000 },
    async () => {
      const owner = new ApiClient(child.url, s.owner.token);
      const actor = new ApiClient(child.url, (await s.agent('actor')).token);
      const attacker = await s.agent('fuzzer');
      const watcher: RealtimeClient = await owner.socket();
      // Warm up the code paths the fuzz will use, then take the baseline.
      const warm = prng(SEED ^ 1);
      for (let i = 0; i < 20; i++) await round(warm, attacker.token);
      const baseline = await liveMemory(child);

      let fuzzing = true;
      let toggles = 0;
      const producer = (async () => {
        // While the fuzz runs, the well-behaved socket keeps receiving every status change.
        while (fuzzing || toggles < 5) {
          const status = toggles % 2 === 0 ? 'away' : 'online';
          await actor.put('/api/me/status', { status });
          toggles++;
          const want = toggles;
          await watcher.next(
            () => watcher.events().filter((e) => e.name === 'agent.status_changed').length >= want,
            20_000,
          );
        }
      })();
      // Awaited below; until then a failure must not count as an unhandled rejection.
      producer.catch(() => undefined);
      const clients = Array.from({ length: CLIENTS }, async (_, c) => {
        const r = prng(SEED + c);
        for (let i = 0; i < ROUNDS; i++) {
          alive();
          await round(r, attacker.token).catch(async (err: unknown) => {
            // A dead server shows first as a refused or reset socket: name the real cause.
            for (let t = 0; t < 40 && !child.exited; t++)
              await new Promise((w) => setTimeout(w, 50));
            alive();
            throw err;
          });
        }
      });
      try {
        await Promise.all(clients);
      } finally {
        fuzzing = false;
      }
      await producer;
      alive();
      expect(toggles).toBeGreaterThanOrEqual(5);
      expect(watcher.ws.readyState).toBe(watcher.ws.OPEN);
      expect((await owner.get('/api/health')).ok).toBe(true);
      await watcher.close();
      // Sockets the fuzz left are gone once their close completes; memory must come back.
      let memory = await liveMemory(child);
      for (let i = 0; i < 50 && memory > baseline + MEMORY_SLACK; i++) {
        await new Promise((r) => setTimeout(r, 200));
        memory = await liveMemory(child);
      }
      expect(memory - baseline).toBeLessThan(MEMORY_SLACK);
      alive();
    },
  );
});
