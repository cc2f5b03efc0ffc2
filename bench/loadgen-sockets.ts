import WebSocket from 'ws';
import { Latencies, now, type Summary } from './lib';

/*
 * The generator's WebSocket side: console-like sockets (hello, then resume from the last seq),
 * kept in named groups. Frames carrying a push's marker `B#<n>#` are timed against the push's
 * intended send time, which the HTTP side of the same process recorded (one clock).
 */

interface Sock {
  ws: WebSocket;
  url: string;
  token: string;
  lastSeq: number;
}

const groups = new Map<string, Sock[]>();
/** Push number → intended send time (performance.now of this process). */
export const intendedAt = new Map<number, number>();

/** What the fan-out benches read back; reset by `trackReset`. */
const track = {
  lat: new Latencies(),
  /** Frames that carried a marker, and their sizes by position within a push (1st, 2nd, …). */
  marked: 0,
  sizes: [] as number[][],
  firstAt: Infinity,
  lastAt: 0,
};
const seenBy = new WeakMap<Sock, Map<number, number>>();

const MARK = Buffer.from('B#');

/** The number after `B#` at `i` (digits up to the closing `#`). */
function markerAt(data: Buffer, i: number): number {
  let n = 0;
  for (let j = i + 2; j < data.length && data[j]! >= 48 && data[j]! <= 57; j++)
    n = n * 10 + data[j]! - 48;
  return n;
}

// Thousands of frames a second reach this process: read only the head and the marker, as bytes.
function onFrame(s: Sock, data: Buffer): void {
  const at = now();
  const seq = /^\{"type":"(?:event|hello)","seq":(\d+)/.exec(data.toString('latin1', 0, 40))?.[1];
  if (seq !== undefined) s.lastSeq = Math.max(s.lastSeq, Number(seq));
  const i = data.indexOf(MARK);
  if (i < 0) return;
  const n = markerAt(data, i);
  let seen = seenBy.get(s);
  if (!seen) seenBy.set(s, (seen = new Map()));
  const k = seen.get(n) ?? 0;
  seen.set(n, k + 1);
  track.marked++;
  (track.sizes[k] ??= []).push(data.length);
  track.lastAt = at;
  const due = intendedAt.get(n);
  // The first frame of a push on a socket is its message.created (the message comes first).
  if (k === 0 && due !== undefined) track.lat.record(at - due);
}

/** Opens a socket, does the hello/resume handshake and resolves once live. */
function connect(url: string, token: string, lastSeq: number | null): Promise<Sock> {
  const ws = new WebSocket(url, {
    perMessageDeflate: false,
    ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
  });
  const s: Sock = { ws, url, token, lastSeq: lastSeq ?? 0 };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('handshake timed out after 60 s'));
    }, 60_000);
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    let live = false;
    ws.on('message', (data: Buffer) => {
      if (live) return onFrame(s, data);
      const frame = JSON.parse(data.toString('utf8')) as { type: string; seq: number };
      if (frame.type === 'hello') {
        ws.send(JSON.stringify({ type: 'resume', lastSeq: lastSeq ?? frame.seq }));
        s.lastSeq = Math.max(s.lastSeq, lastSeq ?? frame.seq);
      } else if (frame.type === 'event') onFrame(s, data);
      else if (frame.type === 'resumed' || frame.type === 'resync') {
        clearTimeout(timer);
        live = true;
        ws.removeAllListeners('error');
        ws.on('error', () => undefined);
        s.lastSeq = Math.max(s.lastSeq, frame.seq);
        resolve(s);
      }
    });
  });
}

async function pool<T>(
  n: number,
  concurrency: number,
  fn: (i: number) => Promise<T>,
): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, worker));
  return out;
}

export const socketHandlers = {
  /** Opens `count` sockets into `group`, token i % tokens.length each (an agent's tabs). */
  async socketsOpen(a: {
    group: string;
    url: string;
    tokens: string[];
    count: number;
    concurrency?: number;
  }) {
    const start = now();
    const socks = await pool(a.count, a.concurrency ?? 50, (i) =>
      connect(a.url, a.tokens[i % a.tokens.length] ?? '', null),
    );
    groups.set(a.group, [...(groups.get(a.group) ?? []), ...socks]);
    return { open: socks.length, ms: now() - start };
  },
  socketsClose(a: { group: string }) {
    for (const s of groups.get(a.group) ?? []) s.ws.terminate();
    groups.delete(a.group);
  },
  trackReset() {
    track.lat = new Latencies();
    track.marked = 0;
    track.sizes = [];
    track.firstAt = now();
    track.lastAt = 0;
  },
  /** Marker frames seen since `trackReset`, their sizes and the first-frame latencies. */
  trackStats(): { latency: Summary; marked: number; sizes: number[]; spanMs: number } {
    const mean = (v: number[]) => v.reduce((x, y) => x + y, 0) / v.length;
    return {
      latency: track.lat.summary(),
      marked: track.marked,
      sizes: track.sizes.filter((v) => v.length > 0).map((v) => Math.round(mean(v))),
      spanMs: track.lastAt - track.firstAt,
    };
  },
  /**
   * The reconnect storm: every socket of the group is cut at once and reconnects at once,
   * resuming from the last seq it had. Resolves when all are live again.
   */
  async storm(a: { group: string }) {
    const socks = groups.get(a.group) ?? [];
    for (const s of socks) s.ws.terminate();
    const start = now();
    let failed = 0;
    const again = await Promise.all(
      socks.map((s) =>
        connect(s.url, s.token, s.lastSeq).catch(() => {
          failed++;
          return null;
        }),
      ),
    );
    groups.set(
      a.group,
      again.filter((s): s is Sock => s !== null),
    );
    return { reconnected: socks.length - failed, failed, ms: now() - start };
  },
};
