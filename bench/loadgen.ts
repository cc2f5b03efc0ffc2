import { buildPushRequest, type AppConfig } from '@kefu/wechat-sim';
import { serve } from './ipc';
import { msgIdOf, performanceOrigin } from './lib';
import { runClosed, runOpen, type RequestSpec, type RunResult } from './loadgen-http';
import { intendedAt, socketHandlers } from './loadgen-sockets';

/*
 * The load generator, in its own process. Requests are built (signed, encrypted) before any
 * clock starts and kept here under a key; the parent then asks for open-loop or closed-loop runs
 * of them against Kefu or a raw baseline, and gets the figures back.
 */
const lists = new Map<string, { specs: RequestSpec[]; markers: number[] }>();

export interface PushBatch {
  key: string;
  app: AppConfig;
  /** First push number; the numbers are the markers `B#n#` and, with `run`, the MsgIds. */
  first: number;
  count: number;
  run: number;
  /** Distinct customers cycled through; 0 = a new customer for every push. */
  customers: number;
  /** Where to POST instead of the app's pushUrl (a raw baseline). */
  target?: string;
  /** Add `&bid=n` to the query: the raw relay's cue (it cannot decrypt the marker). */
  relay?: boolean;
}

function buildPushes(b: PushBatch): RequestSpec[] {
  const timestamp = String(Math.floor(Date.now() / 1000));
  return Array.from({ length: b.count }, (_, k) => {
    const n = b.first + k;
    const openid = `o-bench-${b.run}-${b.customers > 0 ? n % b.customers : n}`;
    const push = buildPushRequest(
      b.app,
      {
        ToUserName: b.app.originalId,
        FromUserName: openid,
        CreateTime: Number(timestamp),
        MsgType: 'text',
        Content: `B#${n}# 请问第 ${n} 件商品什么时候发货？`,
        MsgId: msgIdOf(b.run, n),
      },
      { timestamp },
    );
    const query = push.url.split('?')[1]!;
    const url = b.target ? `${b.target}?${query}${b.relay ? `&bid=${n}` : ''}` : push.url;
    return { method: 'POST', url, headers: { 'content-type': push.contentType }, body: push.body };
  });
}

function listOf(key: string): { specs: RequestSpec[]; markers: number[] } {
  const list = lists.get(key);
  if (!list) throw new Error(`no request list ${key}`);
  return list;
}

serve({
  pushes(b: PushBatch) {
    const markers = Array.from({ length: b.count }, (_, k) => b.first + k);
    lists.set(b.key, { specs: buildPushes(b), markers });
    return b.count;
  },
  requests(a: { key: string; specs: RequestSpec[] }) {
    lists.set(a.key, { specs: a.specs, markers: [] });
    return a.specs.length;
  },
  /**
   * Open loop at `rate`/s. With `stamps`, also returns each request's intended send time on the
   * wall clock (for latencies that end in another process, like the emulator's inbox).
   */
  async open(a: { key: string; rate: number; timeoutMs: number; stamps?: boolean }) {
    const { specs, markers } = listOf(a.key);
    const stamps: number[] = [];
    const r: RunResult = await runOpen(specs, a.rate, a.timeoutMs, (i, intended) => {
      if (markers.length) intendedAt.set(markers[i]!, intended);
      if (a.stamps) stamps[i] = performanceOrigin + intended;
    });
    return { ...r, ...(a.stamps ? { stamps } : {}) };
  },
  async closed(a: { key: string; concurrency: number; timeoutMs: number; durationMs: number }) {
    const { specs, markers } = listOf(a.key);
    return runClosed(specs, a.concurrency, a.timeoutMs, a.durationMs, (i, at) => {
      if (markers.length) intendedAt.set(markers[i]!, at);
    });
  },
  drop(a: { key: string }) {
    lists.delete(a.key);
  },
  ...socketHandlers,
});
