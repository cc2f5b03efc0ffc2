import type { Sim } from '@kefu/wechat-sim';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { Dialect } from '../server/src/db/index';

/** Which storage Kefu runs on (default sqlite; `KEFU_BENCH_DIALECT=postgres`). */
export const DIALECT = (process.env.KEFU_BENCH_DIALECT ?? 'sqlite') as Dialect;

export const now = (): number => performance.now();

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const median = (values: number[]): number => percentile(values, 50);

/** Runs `fn` over `items` with at most `concurrency` in flight, in order of start. */
export async function pool<T, R>(
  items: T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}

const fmt = (n: number): string =>
  n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n >= 1 ? n.toFixed(2) : n.toPrecision(2);

/**
 * The one output line of a figure: Kefu's value, the raw baseline of the same run, and
 * kefu / raw. For throughput a ratio below 1 is the share of raw speed kept; for latency and
 * memory a ratio above 1 is how many times the raw cost Kefu pays.
 */
export function ratioLine(name: string, kefu: number, raw: number, unit: string): string {
  return `${name}: ${fmt(kefu)} ${unit} (raw ${fmt(raw)} ${unit}) ratio ${(kefu / raw).toFixed(2)}`;
}

/** A 17-digit MsgId like WeChat's, unique within the process. */
let msgSerial = 0;
export function nextMsgId(): string {
  msgSerial += 1;
  return String(
    40_000_000_000_000_000n + BigInt(Date.now() % 1_000_000) * 1_000_000n + BigInt(msgSerial),
  );
}

/** Resident set size of a process in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Calls `onSend` each time the emulator has answered a custom/send (its inbox is updated by
 * then). Listens on the emulator's HTTP server, so it works on an emulator already listening.
 */
export function watchSends(sim: Sim, onSend: () => void): void {
  sim.app.server.on('request', (req: { url?: string }, res: NodeJS.EventEmitter) => {
    if (req.url?.startsWith('/cgi-bin/message/custom/send')) res.once('finish', onSend);
  });
}

/**
 * Opens a socket the way the console does (hello, then resume) and resolves once it is live,
 * signed in with `token` as a bearer header (the gateway takes no token in the URL).
 * The handler is attached before `open`: the hello can arrive in the same read as the upgrade.
 */
export function openConsoleSocket(url: string, token?: string): Promise<WebSocket> {
  const ws = new WebSocket(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString('utf8')) as { type: string; seq: number };
      if (frame.type === 'hello') ws.send(JSON.stringify({ type: 'resume', lastSeq: frame.seq }));
      else if (frame.type === 'resumed' || frame.type === 'resync') {
        ws.removeAllListeners('message');
        resolve(ws);
      }
    });
  });
}
