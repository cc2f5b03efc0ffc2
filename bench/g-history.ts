import path from 'node:path';
import { startWorker } from './ipc';
import { detail, envInt, fmt, goalLine, median } from './lib';
import type { RequestSpec, RunResult } from './loadgen-http';
import { startBenchStack, type BenchStack } from './stack';

/*
 * G8 history paging: one conversation with ROWS messages, seeded with raw batched SQL straight
 * into Kefu's SQLite file (not through the API: ten million pushes would take hours). Kefu's
 * page API at the newest end and at the oldest end, against a bare HTTP server doing the plain
 * indexed lookup on the same file, same client, alternate rounds.
 */
const ROWS = envInt('KEFU_BENCH_HISTORY_ROWS', 1_000_000);
/** Low enough that a page is timed, not a queue of them. */
const RATE = 20;
const ROUND_S = 3;
const PAGE = 50;
const ROUNDS = Math.max(2, envInt('KEFU_BENCH_ROUNDS', 3) - 1);

async function p50(s: BenchStack, key: string, spec: RequestSpec): Promise<number> {
  const specs = Array.from({ length: RATE * ROUND_S }, () => spec);
  await s.gen.call('requests', { key, specs });
  const r = await s.gen.call<RunResult>('open', { key, rate: RATE, timeoutMs: 10_000 });
  await s.gen.call('drop', { key });
  if (r.ok !== specs.length)
    throw new Error(
      `${key}: ${r.offered - r.ok} page requests failed ${JSON.stringify(r.statuses)}`,
    );
  return r.latency.p50;
}

/** G8: newest vs deepest page of a huge conversation, Kefu and the plain lookup. */
export async function benchHistory(): Promise<string[]> {
  // The seed writes Kefu's SQLite file directly, so this one always runs on SQLite.
  const s = await startBenchStack({ dialect: 'sqlite' });
  const rawSql = await startWorker('raw-sqlite.ts');
  try {
    const [agent] = await s.agents('hist', 1);
    await s.sim.call('sendText', {
      appId: s.app.appId,
      openid: 'o-history',
      content: '第一条消息',
    });
    const { items } = await agent!.get<{ items: { id: string }[] }>(
      '/api/conversations?state=queued&limit=10',
    );
    const conv = items[0]!.id;
    const seeded = await rawSql.call<{ rowsPerSecond: number }>('seedHistory', {
      file: path.join(s.dataDir, 'kefu.db'),
      conversationId: conv,
      rows: ROWS,
      firstSeq: 2,
    });
    const { url: rawUrl } = await rawSql.call<{ url: string }>('lookupServer', {
      file: path.join(s.dataDir, 'kefu.db'),
    });
    const auth = { authorization: `Bearer ${agent!.token}` };
    const kefuPage = (before?: number): RequestSpec => ({
      method: 'GET',
      url: `${s.kefuUrl}/api/conversations/${conv}/messages?limit=${PAGE}${before ? `&before=${before}` : ''}`,
      headers: auth,
    });
    const rawPage = (before?: number): RequestSpec => ({
      method: 'GET',
      url: `${rawUrl}/page?conv=${conv}&limit=${PAGE}${before ? `&before=${before}` : ''}`,
    });
    const deep = PAGE * 2 + 2;
    const at = {
      kefuNew: [] as number[],
      kefuDeep: [] as number[],
      rawNew: [] as number[],
      rawDeep: [] as number[],
    };
    await p50(s, 'warm', kefuPage());
    for (let r = 0; r < ROUNDS; r++) {
      at.rawNew.push(await p50(s, 'rn', rawPage()));
      at.kefuNew.push(await p50(s, 'kn', kefuPage()));
      at.rawDeep.push(await p50(s, 'rd', rawPage(deep)));
      at.kefuDeep.push(await p50(s, 'kd', kefuPage(deep)));
    }
    const kNew = median(at.kefuNew);
    const kDeep = median(at.kefuDeep);
    const rDeep = median(at.rawDeep);
    const flat = kDeep / kNew;
    detail(
      `${ROWS.toLocaleString('en')} messages in one conversation (seeded at ${fmt(seeded.rowsPerSecond)} rows/s), pages of ${PAGE}, ` +
        `${RATE} req/s open loop for ${ROUND_S} s × ${ROUNDS} rounds, p50s: kefu newest ${at.kefuNew.map(fmt).join('/')} deep ${at.kefuDeep.map(fmt).join('/')} ms; ` +
        `plain lookup newest ${at.rawNew.map(fmt).join('/')} deep ${at.rawDeep.map(fmt).join('/')} ms; sqlite`,
    );
    const line = goalLine({
      name: 'G8 history-paging',
      value: `deep page ${fmt(kDeep)} ms vs newest ${fmt(kNew)} ms (×${fmt(flat)}) at ${ROWS.toLocaleString('en')} messages`,
      ratio: kDeep / rDeep,
      baseline: `plain indexed lookup ${fmt(rDeep)} ms`,
      goal: 'deep ≤1.5× newest',
      pass: flat <= 1.5,
    });
    console.log(line);
    return [line];
  } finally {
    await rawSql.kill();
    await s.close();
  }
}
